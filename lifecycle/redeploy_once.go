package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"k8s.io/client-go/util/retry"

	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// RedeployRecord is a forced redeployment, what ForceRedeploy and
// ForceRedeployOnce return and a resumable procedure records before
// patching: the spec.forceRedeploymentReason set and the
// status.latestAvailableRevision read before the patch. Give it to
// WaitAllNodesAtLatestRevision as WaitOptions.After.
type RedeployRecord struct {
	Reason        string `json:"reason"`
	AfterRevision int32  `json:"afterRevision"`
}

// RedeployStore keeps RedeployRecords where a resumed run finds them: a
// plan's persisted state (restore keeps them in its state file on the
// recovery host) or the cluster itself (AnnotationRedeployStore).
type RedeployStore interface {
	// LoadRedeploy returns the record saved for target; ok is false when
	// there is none.
	LoadRedeploy(ctx context.Context, target Operator) (rec RedeployRecord, ok bool, err error)
	// SaveRedeploy records rec for target durably before it returns nil.
	// A zero rec removes the record.
	SaveRedeploy(ctx context.Context, target Operator, rec RedeployRecord) error
}

// ForceRedeployOnce is ForceRedeploy made idempotent across crashes and
// resumes, for procedures run as plans (runbook 2.4.1, 2.4.2 step 4, 5.3.1
// steps 10-12):
//
//   - with no record in store, it reads the latest available revision,
//     chooses a new reason (ForceRedeployOptions as for ForceRedeploy),
//     saves both in store, and only then patches spec.forceRedeploymentReason;
//   - with a record whose reason the object already carries (the patch was
//     made, the run stopped before the step was recorded as finished), it
//     patches nothing and returns the record as saved, so the wait uses the
//     revision read before that patch;
//   - with a record whose reason the object does not carry (the run stopped
//     between saving and patching), it saves the record again with the
//     revision read now and patches with the recorded reason.
//
// It returns the record to wait with (Reason and AfterRevision for
// WaitOptions) and whether it patched in this call. Errors wrap the API or
// store error with the operator; ErrReasonAlreadySet (wrapped) when
// opts.Reason is already set and no record says it was this procedure's.
// It returns promptly when ctx ends.
func ForceRedeployOnce(ctx context.Context, ops operatorclient.Interface, target Operator, store RedeployStore, opts ForceRedeployOptions) (RedeployRecord, bool, error) {
	c, err := clientFor("ForceRedeployOnce", ops, target)
	if err != nil {
		return RedeployRecord{}, false, err
	}
	if store == nil {
		return RedeployRecord{}, false, opterr.Nil("lifecycle.ForceRedeployOnce store")
	}
	prior, havePrior, err := store.LoadRedeploy(ctx, target)
	if err != nil {
		return RedeployRecord{}, false, fmt.Errorf("lifecycle: force redeployment of %s/%s: loading the record: %w", target, objectName, err)
	}
	backoff := opts.Backoff
	if backoff.Steps == 0 {
		backoff = retry.DefaultBackoff
	}
	var current string
	var latest int32
	err = retryWithContext(ctx, backoff, retriable, func() error {
		obj, err := c.get(ctx)
		if err != nil {
			return err
		}
		sp, _ := staticPodOf(obj)
		current, latest = sp.Spec.ForceRedeploymentReason, sp.Status.LatestAvailableRevision
		return nil
	})
	if err != nil {
		return RedeployRecord{}, false, fmt.Errorf("lifecycle: force redeployment of %s/%s: reading it: %w", target, objectName, err)
	}
	if havePrior && prior.Reason != "" && prior.Reason == current {
		return prior, false, nil // patched by an earlier run
	}

	rec := RedeployRecord{Reason: opts.Reason, AfterRevision: latest}
	switch {
	case havePrior && prior.Reason != "":
		rec.Reason = prior.Reason
	case rec.Reason != "" && rec.Reason == current:
		return RedeployRecord{}, false, fmt.Errorf("lifecycle: force redeployment of %s/%s: reason %q: %w", target, objectName, rec.Reason, ErrReasonAlreadySet)
	case rec.Reason == "":
		now := opts.Now
		if now == nil {
			now = time.Now
		}
		prefix := opts.Prefix
		if prefix == "" {
			prefix = DefaultRedeployPrefix
		}
		rec.Reason = uniqueReason(prefix, now(), current)
	}
	if err := store.SaveRedeploy(ctx, target, rec); err != nil {
		return RedeployRecord{}, false, fmt.Errorf("lifecycle: force redeployment of %s/%s: recording reason %q: %w", target, objectName, rec.Reason, err)
	}
	opts.Reason = rec.Reason
	patched, err := ForceRedeploy(ctx, ops, target, opts)
	if err != nil {
		if errors.Is(err, ErrReasonAlreadySet) {
			return rec, false, nil // it landed between the read and the patch
		}
		return RedeployRecord{}, false, err
	}
	if patched.AfterRevision > rec.AfterRevision {
		// A revision appeared between the read and the patch: it predates
		// the reason, so the wait must look past it too.
		if err := store.SaveRedeploy(ctx, target, patched); err != nil {
			return RedeployRecord{}, false, fmt.Errorf("lifecycle: force redeployment of %s/%s: recording revision %d: %w", target, objectName, patched.AfterRevision, err)
		}
		rec = patched
	}
	return rec, true, nil
}

// AnnotationRedeployStore keeps RedeployRecords in an annotation of each
// operator object ("redeploy.lifeboat.dev/<key>", JSON), for procedures
// with no state of their own: the record lives in the cluster, next to the
// reason it describes, and survives the process that wrote it. key names
// the procedure and its target (e.g. "replace-master-1"); keys too long or
// not valid as an annotation name are hashed.
type AnnotationRedeployStore struct {
	ops operatorclient.Interface
	key string
}

var _ RedeployStore = (*AnnotationRedeployStore)(nil)

// NewAnnotationRedeployStore returns the store for key on ops's operator
// objects.
func NewAnnotationRedeployStore(ops operatorclient.Interface, key string) *AnnotationRedeployStore {
	return &AnnotationRedeployStore{ops: ops, key: redeployAnnotation(key)}
}

// Annotation is the annotation the store uses.
func (s *AnnotationRedeployStore) Annotation() string { return s.key }

var annotationName = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)

func redeployAnnotation(key string) string {
	if !annotationName.MatchString(key) {
		sum := sha256.Sum256([]byte(key))
		key = hex.EncodeToString(sum[:16])
	}
	return "redeploy.lifeboat.dev/" + key
}

// LoadRedeploy implements RedeployStore.
func (s *AnnotationRedeployStore) LoadRedeploy(ctx context.Context, target Operator) (RedeployRecord, bool, error) {
	c, err := clientFor("NewAnnotationRedeployStore", s.ops, target)
	if err != nil {
		return RedeployRecord{}, false, err
	}
	obj, err := c.get(ctx)
	if err != nil {
		return RedeployRecord{}, false, fmt.Errorf("reading %s/%s: %w", target, objectName, err)
	}
	sp, _ := staticPodOf(obj)
	v, ok := sp.Annotations[s.key]
	if !ok {
		return RedeployRecord{}, false, nil
	}
	var rec RedeployRecord
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		// Not ours to trust: behave as if nothing was recorded.
		return RedeployRecord{}, false, nil
	}
	return rec, rec.Reason != "", nil
}

// SaveRedeploy implements RedeployStore with a merge patch of the
// annotation (removing it for a zero rec).
func (s *AnnotationRedeployStore) SaveRedeploy(ctx context.Context, target Operator, rec RedeployRecord) error {
	c, err := clientFor("NewAnnotationRedeployStore", s.ops, target)
	if err != nil {
		return err
	}
	var v any // nil removes the annotation
	if rec != (RedeployRecord{}) {
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		v = string(b)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{s.key: v}}})
	if err != nil {
		return err
	}
	if err := c.patch(ctx, patch); err != nil {
		return fmt.Errorf("annotating %s/%s with %s: %w", target, objectName, s.key, err)
	}
	return nil
}
