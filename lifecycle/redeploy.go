package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
)

// DefaultRedeployPrefix is the prefix of the reason ForceRedeploy sets when
// the caller gives none, as in the runbook's
// `"forceRedeploymentReason": "recovery-$( date --rfc-3339=ns )"`.
const DefaultRedeployPrefix = "recovery-"

// ForceRedeployOptions configures ForceRedeploy. The zero value sets
// "recovery-<now in RFC 3339 with nanoseconds>".
type ForceRedeployOptions struct {
	// Prefix replaces "recovery-" (2.4.2 uses "single-master-recovery-").
	Prefix string
	// Reason, when set, is used as is instead of Prefix + timestamp. It must
	// differ from the current value, or the operator rolls nothing out:
	// ForceRedeploy then fails with ErrReasonAlreadySet and patches nothing.
	Reason string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Backoff paces retries on conflicts and transient API errors;
	// retry.DefaultBackoff when zero. The sleeps between tries end early
	// when ctx ends.
	Backoff wait.Backoff
	// Logger receives one line per patch; discarded when nil.
	Logger *slog.Logger
}

// ForceRedeploy sets a new, unique spec.forceRedeploymentReason on the
// target operator's `cluster` object with a merge patch, which makes the
// operator roll a new revision out to every master: the runbook's
//
//	oc patch etcd cluster -p='{"spec": {"forceRedeploymentReason": "recovery-'"$( date --rfc-3339=ns )"'"}}' --type=merge
//
// It returns what the wait needs: the reason it set and the
// status.latestAvailableRevision of the very object version it patched
// (the patch carries that metadata.resourceVersion, so a change between
// the read and the patch, a new revision included, is a conflict and is
// read again). Give the record to WaitAllNodesAtLatestRevision as
// WaitOptions.After: the wait then cannot return on a revision that
// existed before the reason was set. It retries on conflicts and on
// transient API errors (the API server may be restarting during a
// recovery), for Backoff.Steps tries at most. It returns promptly,
// wrapping ctx.Err(), when ctx ends, including between tries.
//
// ForceRedeploy is not idempotent by itself: every call starts a rollout.
// A procedure that may be resumed after a crash uses ForceRedeployOnce,
// which records the reason before the patch.
func ForceRedeploy(ctx context.Context, ops operatorclient.Interface, target Operator, opts ForceRedeployOptions) (RedeployRecord, error) {
	c, err := clientFor("ForceRedeploy", ops, target)
	if err != nil {
		return RedeployRecord{}, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultRedeployPrefix
	}
	backoff := opts.Backoff
	if backoff.Steps == 0 {
		backoff = retry.DefaultBackoff
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	var rec RedeployRecord
	err = retryWithContext(ctx, backoff, retriable, func() error {
		obj, err := c.get(ctx)
		if err != nil {
			return err
		}
		sp, _ := staticPodOf(obj)
		current := sp.Spec.ForceRedeploymentReason
		reason := opts.Reason
		if reason == "" {
			reason = uniqueReason(prefix, now(), current)
		} else if reason == current {
			return fmt.Errorf("reason %q: %w", reason, ErrReasonAlreadySet)
		}
		rec = RedeployRecord{Reason: reason, AfterRevision: sp.Status.LatestAvailableRevision}
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"resourceVersion": sp.ResourceVersion},
			"spec":     map[string]any{"forceRedeploymentReason": reason},
		})
		if err != nil {
			return err
		}
		return c.patch(ctx, patch)
	})
	if err != nil {
		return RedeployRecord{}, fmt.Errorf("lifecycle: force redeployment of %s/%s: %w", target, objectName, err)
	}
	log.InfoContext(ctx, "forced redeployment", "operator", string(target), "forceRedeploymentReason", rec.Reason, "afterRevision", rec.AfterRevision)
	return rec, nil
}

// ErrReasonAlreadySet is returned (wrapped) by ForceRedeploy when the
// reason asked for is already spec.forceRedeploymentReason: setting it again
// would be a no-op patch, and the operator would roll nothing out.
var ErrReasonAlreadySet = errors.New("forceRedeploymentReason already set: the operator would roll nothing out")

// uniqueReason is prefix + t in RFC 3339 with nanoseconds, moved on by a
// nanosecond while it equals current (the same clock reading twice).
func uniqueReason(prefix string, t time.Time, current string) string {
	t = t.UTC()
	reason := prefix + t.Format(time.RFC3339Nano)
	for reason == current {
		t = t.Add(time.Nanosecond)
		reason = prefix + t.Format(time.RFC3339Nano)
	}
	return reason
}

// retryWithContext calls fn until it succeeds, fails with an error
// retriable does not accept, or backoff.Steps tries were made, sleeping
// backoff's durations in between. Unlike retry.OnError it stops as soon as
// ctx ends, also during a sleep, and then returns an error wrapping
// ctx.Err() (and the last error of fn, if any).
func retryWithContext(ctx context.Context, backoff wait.Backoff, retriable func(error) bool, fn func() error) error {
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		switch err := fn(); {
		case err == nil:
			return true, nil
		case retriable(err):
			last = err
			return false, nil
		default:
			return false, err
		}
	})
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && (errors.Is(err, cerr) || wait.Interrupted(err)) {
		if last != nil {
			return fmt.Errorf("%w (last error: %w)", cerr, last)
		}
		return err
	}
	if wait.Interrupted(err) && last != nil {
		return last // tries exhausted: the last error is the answer
	}
	return err
}

func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}
