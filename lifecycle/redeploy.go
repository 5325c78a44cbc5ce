package lifecycle

import (
	"context"
	"encoding/json"
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
	// differ from the current value, or the operator rolls nothing out.
	Reason string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Backoff paces retries on conflicts and transient API errors;
	// retry.DefaultBackoff when zero.
	Backoff wait.Backoff
	// Logger receives one line per patch; slog.Default() when nil.
	Logger *slog.Logger
}

// ForceRedeploy sets a new, unique spec.forceRedeploymentReason on the
// target operator's `cluster` object with a merge patch, which makes the
// operator roll a new revision out to every master: the runbook's
//
//	oc patch etcd cluster -p='{"spec": {"forceRedeploymentReason": "recovery-'"$( date --rfc-3339=ns )"'"}}' --type=merge
//
// It retries on conflicts and on transient API errors (the API server may
// be restarting during a recovery) and returns the reason it set. Wait for
// the rollout with WaitAllNodesAtLatestRevision, passing the revision seen
// before the call (LatestRevision) as AfterRevision.
func ForceRedeploy(ctx context.Context, ops operatorclient.Interface, target Operator, opts ForceRedeployOptions) (string, error) {
	c, err := clientFor(ops, target)
	if err != nil {
		return "", err
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
		log = slog.Default()
	}

	var reason string
	err = retry.OnError(backoff, retriable, func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		obj, err := c.get(ctx)
		if err != nil {
			return err
		}
		sp, _ := staticPodOf(obj)
		current := sp.Spec.ForceRedeploymentReason
		reason = opts.Reason
		if reason == "" {
			t := now().UTC()
			reason = prefix + t.Format(time.RFC3339Nano)
			for reason == current { // same clock reading twice: stay unique
				t = t.Add(time.Nanosecond)
				reason = prefix + t.Format(time.RFC3339Nano)
			}
		} else if reason == current {
			return fmt.Errorf("reason %q is already set; the operator would roll nothing out", reason)
		}
		patch, err := json.Marshal(map[string]any{"spec": map[string]any{"forceRedeploymentReason": reason}})
		if err != nil {
			return err
		}
		return c.patch(ctx, patch)
	})
	if err != nil {
		return "", fmt.Errorf("lifecycle: force redeployment of %s/%s: %w", target, ObjectName, err)
	}
	log.InfoContext(ctx, "forced redeployment", "operator", string(target), "forceRedeploymentReason", reason)
	return reason, nil
}

func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}
