package lifecycle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// defaultDrainTimeout bounds the drain of one worker before a shutdown:
// the "--timeout=15s" of the documented "oc adm drain" loop.
const defaultDrainTimeout = 15 * time.Second

// setUnschedulable marks node (un)schedulable, what "oc adm cordon" and
// "oc adm uncordon" do. It returns whether the node changed.
func setUnschedulable(ctx context.Context, kube kubernetes.Interface, node string, unschedulable bool) (bool, error) {
	n, err := kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	if n.Spec.Unschedulable == unschedulable {
		return false, nil
	}
	patch := fmt.Appendf(nil, `{"spec":{"unschedulable":%t}}`, unschedulable)
	if _, err := kube.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return false, err
	}
	return true, nil
}

// drainNode evicts the pods of a cordoned node the way the documented
// "oc adm drain node/<n> --delete-emptydir-data --ignore-daemonsets=true
// --timeout=15s --force" does, with kubectl's own drain helper: evictions
// (deletions where the API has no eviction), DaemonSet pods left alone,
// emptyDir data and unmanaged pods deleted, pods' own grace periods.
// It returns the number of pods evicted or deleted.
func drainNode(ctx context.Context, kube kubernetes.Interface, node string, timeout time.Duration, log *slog.Logger) (int, error) {
	var evicted atomic.Int64 // the helper evicts pods in parallel
	h := &drain.Helper{
		Ctx:                 ctx,
		Client:              kube,
		Force:               true,
		GracePeriodSeconds:  -1,
		IgnoreAllDaemonSets: true,
		DeleteEmptyDirData:  true,
		Timeout:             timeout,
		Out:                 io.Discard,
		ErrOut:              io.Discard,
		OnPodDeletionOrEvictionFinished: func(pod *corev1.Pod, usingEviction bool, err error) {
			if err == nil {
				evicted.Add(1)
			}
			log.Debug("drain", "node", node, "pod", pod.Namespace+"/"+pod.Name, "eviction", usingEviction, "err", err)
		},
	}
	if err := drain.RunNodeDrain(h, node); err != nil {
		return int(evicted.Load()), fmt.Errorf("draining node %s: %w", node, err)
	}
	return int(evicted.Load()), nil
}

// cordon marks every schedulable node unschedulable, recording which
// nodes it changed. On a failure it uncordons those again (best effort,
// logged) and returns the error: no host has been told to shut down yet.
func (sd *shutdown) cordon(ctx context.Context, progress func(string)) error {
	if err := sd.ensureNodes(ctx); err != nil {
		return err
	}
	for i := range sd.res.Nodes {
		r := &sd.res.Nodes[i]
		changed, err := setUnschedulable(ctx, sd.deps.Kube, r.Node, true)
		if err != nil {
			undo := sd.res.Cordoned()
			for _, n := range undo {
				if _, uerr := setUnschedulable(context.WithoutCancel(ctx), sd.deps.Kube, n, false); uerr != nil {
					sd.opts.Logger.Error("could not uncordon after a failed cordon", "node", n, "err", uerr)
				}
			}
			for j := range sd.res.Nodes {
				sd.res.Nodes[j].Cordoned = false
			}
			return fmt.Errorf("cordoning node %s before the shutdown (uncordoned %d nodes again): %w", r.Node, len(undo), err)
		}
		r.Cordoned = changed
		if changed {
			progress("cordoned " + r.Node)
		}
		sd.opts.Logger.Info("cordon", "node", r.Node, "changed", changed)
	}
	return nil
}

// cordonDryRun records and reports the nodes cordon would change.
func (sd *shutdown) cordonDryRun(ctx context.Context, _ func(string)) (string, error) {
	if err := sd.ensureNodes(ctx); err != nil {
		return "", err
	}
	var would []string
	for i, n := range sd.nodes {
		sd.res.Nodes[i].Cordoned = !n.Spec.Unschedulable
		if !n.Spec.Unschedulable {
			would = append(would, n.Name)
		}
	}
	return "would cordon " + strings.Join(would, ", "), nil
}

// drainSteps has one sub-step per worker. A drain that does not finish is
// recorded on its node, logged and reported skipped: the shutdown goes
// on, as the documented loop does.
func (sd *shutdown) drainSteps(ctx context.Context) ([]plan.Step, error) {
	if err := sd.ensureNodes(ctx); err != nil {
		return nil, err
	}
	var steps []plan.Step
	for _, n := range sd.nodes {
		if isMaster(&n) {
			continue
		}
		name, r := n.Name, sd.node(n.Name)
		steps = append(steps, plan.Step{
			ID:          "drain/" + name,
			Description: fmt.Sprintf("evict the pods of worker %s (oc adm drain --timeout=%s)", name, sd.opts.DrainTimeout),
			Run: func(ctx context.Context, progress func(string)) error {
				r.Evicted, r.DrainErr = drainNode(ctx, sd.deps.Kube, name, sd.opts.DrainTimeout, sd.opts.Logger)
				r.Drained = r.DrainErr == nil
				if r.DrainErr != nil {
					sd.opts.Logger.Warn("drain did not finish; shutting the node down anyway", "node", name, "err", r.DrainErr)
					return plan.Skip(fmt.Sprintf("drain did not finish (%v); the node is shut down anyway", r.DrainErr))
				}
				progress(fmt.Sprintf("%d pods evicted", r.Evicted))
				return nil
			},
			DryRun: func(context.Context, func(string)) (string, error) {
				r.Drained = true
				return "would evict the pods of " + name, nil
			},
		})
	}
	return steps, nil
}
