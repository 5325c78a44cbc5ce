package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// QuorumGuardOverride is the key of the Etcd operator object's
// spec.unsupportedConfigOverrides that turns the etcd quorum guard off.
// cluster-etcd-operator (ceohelpers, the "unsafe" bootstrap scaling
// strategy) reads it as off when its value is the boolean true or a string
// strconv.ParseBool takes for true; anything else, or no key, leaves the
// guard on. With the guard on the operator rolls no new etcd revision
// unless the cluster can lose a member and keep quorum (three healthy
// members on a three-master cluster), which a cluster restored to one
// member cannot: the 4.18+ "Restoring to a previous cluster state" turns it
// off once the API answers, waits for a stable cluster
// ("oc adm wait-for-stable-cluster"), and turns it back on.
const QuorumGuardOverride = "useUnsupportedUnsafeNonHANonProductionUnstableEtcd"

// ErrInvalidOverrides: spec.unsupportedConfigOverrides of the Etcd object
// is not a JSON object, so the guard key cannot be merged into it without
// destroying what it holds. Nothing was changed.
var ErrInvalidOverrides = errors.New("etcd spec.unsupportedConfigOverrides is not a JSON object")

// QuorumGuard is the quorum guard override as found on
// etcds.operator.openshift.io/cluster: what DisableQuorumGuard needs to
// put back exactly. Its zero value is "no override key" (the guard on).
// It marshals to JSON, so a resumable procedure records it before it
// turns the guard off.
type QuorumGuard struct {
	// Set: the QuorumGuardOverride key was present.
	Set bool `json:"set"`
	// Value is the key's value as raw JSON (when Set).
	Value json.RawMessage `json:"value,omitempty"`
}

// Disabled reports whether the guard is off, judged as the operator
// judges it (see QuorumGuardOverride).
func (g QuorumGuard) Disabled() bool {
	if !g.Set {
		return false
	}
	var v any
	if err := json.Unmarshal(g.Value, &v); err != nil {
		return false
	}
	switch x := v.(type) {
	case bool:
		return x
	case string:
		b, err := strconv.ParseBool(x)
		return err == nil && b
	}
	return false
}

// String describes the override for progress lines.
func (g QuorumGuard) String() string {
	state := "on"
	if g.Disabled() {
		state = "off"
	}
	if !g.Set {
		return "quorum guard on (no " + QuorumGuardOverride + " override)"
	}
	return fmt.Sprintf("quorum guard %s (%s: %s)", state, QuorumGuardOverride, string(g.Value))
}

// ReadQuorumGuard reads the override from the Etcd object "cluster".
// Errors wrap the API error, or ErrInvalidOverrides.
func ReadQuorumGuard(ctx context.Context, ops operatorclient.Interface) (QuorumGuard, error) {
	if ops == nil {
		return QuorumGuard{}, opterr.Nil("lifecycle.ReadQuorumGuard ops")
	}
	g, _, err := readQuorumGuard(ctx, ops)
	return g, err
}

func readQuorumGuard(ctx context.Context, ops operatorclient.Interface) (QuorumGuard, string, error) {
	etcd, err := ops.OperatorV1().Etcds().Get(ctx, objectName, metav1.GetOptions{})
	if err != nil {
		return QuorumGuard{}, "", fmt.Errorf("reading the quorum guard of etcds/%s: %w", objectName, err)
	}
	g, err := parseQuorumGuard(etcd.Spec.UnsupportedConfigOverrides.Raw)
	if err != nil {
		return QuorumGuard{}, "", fmt.Errorf("reading the quorum guard of etcds/%s: %w", objectName, err)
	}
	return g, etcd.ResourceVersion, nil
}

// parseQuorumGuard finds the override key in raw overrides (empty or null:
// none).
func parseQuorumGuard(raw []byte) (QuorumGuard, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return QuorumGuard{}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return QuorumGuard{}, ErrInvalidOverrides
	}
	v, ok := m[QuorumGuardOverride]
	if !ok {
		return QuorumGuard{}, nil
	}
	return QuorumGuard{Set: true, Value: v}, nil
}

// QuorumGuardOptions tune DisableQuorumGuard and RestoreQuorumGuard. The
// zero value retries conflicts with client-go's default back-off.
type QuorumGuardOptions struct {
	// Backoff of the retries on a conflict (the object changed between
	// the read and the patch); retry.DefaultBackoff when zero.
	Backoff wait.Backoff
}

func (o QuorumGuardOptions) backoff() wait.Backoff {
	if o.Backoff.Steps == 0 {
		return retry.DefaultBackoff
	}
	return o.Backoff
}

// DisableQuorumGuard turns the etcd quorum guard off, as the 4.18+ restore
// does ("oc patch etcd/cluster --type=merge -p '{"spec":
// {"unsupportedConfigOverrides": {"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":
// true}}}'"): a JSON merge patch of the one key, every other override key
// kept, made conditional on the resourceVersion read (a conflict is read
// again and retried). It returns the override as it found it, to hand to
// RestoreQuorumGuard, and whether it patched: a guard already off is left
// as it is (and RestoreQuorumGuard with what was returned leaves it off).
//
// A procedure that may be resumed after a crash must record what
// ReadQuorumGuard returns before calling this, and restore that record,
// not what a later call returns (which, after the crash, finds the guard
// already off). Errors wrap the API error, or ErrInvalidOverrides.
func DisableQuorumGuard(ctx context.Context, ops operatorclient.Interface, opts QuorumGuardOptions) (prev QuorumGuard, patched bool, err error) {
	if ops == nil {
		return QuorumGuard{}, false, opterr.Nil("lifecycle.DisableQuorumGuard ops")
	}
	err = retryConflict(ctx, opts.backoff(), func(ctx context.Context) error {
		g, rv, err := readQuorumGuard(ctx, ops)
		if err != nil {
			return err
		}
		prev, patched = g, false
		if g.Disabled() {
			return nil
		}
		if err := patchGuard(ctx, ops, rv, json.RawMessage("true")); err != nil {
			return err
		}
		patched = true
		return nil
	})
	if err != nil {
		return prev, false, fmt.Errorf("turning the quorum guard of etcds/%s off: %w", objectName, err)
	}
	return prev, patched, nil
}

// RestoreQuorumGuard puts the override back as prev describes it (what
// ReadQuorumGuard or DisableQuorumGuard returned before the guard was
// turned off): the key removed when prev is not Set (the runbook's
// "unsupportedConfigOverrides": null, but keeping every other key), else
// set to prev's value. It patches only when the object differs, and
// reports whether it did. Errors wrap the API error, or
// ErrInvalidOverrides.
func RestoreQuorumGuard(ctx context.Context, ops operatorclient.Interface, prev QuorumGuard, opts QuorumGuardOptions) (patched bool, err error) {
	if ops == nil {
		return false, opterr.Nil("lifecycle.RestoreQuorumGuard ops")
	}
	want := json.RawMessage("null") // merge patch: remove the key
	if prev.Set {
		want = prev.Value
	}
	err = retryConflict(ctx, opts.backoff(), func(ctx context.Context) error {
		g, rv, err := readQuorumGuard(ctx, ops)
		if err != nil {
			return err
		}
		patched = false
		if g.Set == prev.Set && (!g.Set || jsonEqual(g.Value, prev.Value)) {
			return nil
		}
		if err := patchGuard(ctx, ops, rv, want); err != nil {
			return err
		}
		patched = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("restoring the quorum guard of etcds/%s (%s): %w", objectName, prev, err)
	}
	return patched, nil
}

// patchGuard merge-patches the override key to value (null removes it),
// conditional on resourceVersion.
func patchGuard(ctx context.Context, ops operatorclient.Interface, resourceVersion string, value json.RawMessage) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": resourceVersion},
		"spec": map[string]any{
			"unsupportedConfigOverrides": map[string]json.RawMessage{QuorumGuardOverride: value},
		},
	})
	if err != nil {
		return err
	}
	_, err = ops.OperatorV1().Etcds().Patch(ctx, objectName, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// retryConflict runs fn until it succeeds, fails with anything but a
// conflict, or the back-off or ctx ends (retryWithContext: a cancelled ctx
// is never turned into success, as retry.OnError would).
func retryConflict(ctx context.Context, b wait.Backoff, fn func(ctx context.Context) error) error {
	return retryWithContext(ctx, b, apierrors.IsConflict, func() error { return fn(ctx) })
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
