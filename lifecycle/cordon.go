package lifecycle

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubectl/pkg/drain"
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

// cordonAll cordons every node when opts.Cordon is set, recording which
// nodes it changed. On a failure it uncordons those again (best effort,
// logged) and returns the error: no host has been told to shut down yet.
func cordonAll(ctx context.Context, kube kubernetes.Interface, nodes []corev1.Node, opts ShutdownOptions, res *ShutdownResult) error {
	if !opts.Cordon {
		return nil
	}
	for i := range res.Nodes {
		r := &res.Nodes[i]
		if opts.DryRun {
			r.Cordoned = !nodes[i].Spec.Unschedulable
			continue
		}
		changed, err := setUnschedulable(ctx, kube, r.Node, true)
		if err != nil {
			undo := res.Cordoned()
			for _, n := range undo {
				if _, uerr := setUnschedulable(context.WithoutCancel(ctx), kube, n, false); uerr != nil {
					opts.Logger.Error("could not uncordon after a failed cordon", "node", n, "err", uerr)
				}
			}
			for j := range res.Nodes {
				res.Nodes[j].Cordoned = false
			}
			return fmt.Errorf("cordoning node %s before the shutdown (uncordoned %d nodes again): %w", r.Node, len(undo), err)
		}
		r.Cordoned = changed
		opts.Logger.Info("cordon", "node", r.Node, "changed", changed)
	}
	return nil
}

// drainWorkers drains every worker when opts.DrainWorkers is set, at most
// opts.MaxParallel at once. Failures are recorded on the node and logged:
// the shutdown goes on, as the documented loop does.
func drainWorkers(ctx context.Context, kube kubernetes.Interface, opts ShutdownOptions, res *ShutdownResult) {
	if !opts.DrainWorkers {
		return
	}
	sem := make(chan struct{}, opts.MaxParallel)
	var wg sync.WaitGroup
	for i := range res.Nodes {
		r := &res.Nodes[i]
		if r.Master {
			continue
		}
		if opts.DryRun {
			r.Drained = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				r.DrainErr = ctx.Err()
				return
			}
			r.Evicted, r.DrainErr = drainNode(ctx, kube, r.Node, opts.DrainTimeout, opts.Logger)
			r.Drained = r.DrainErr == nil
			if r.DrainErr != nil {
				opts.Logger.Warn("drain did not finish; shutting the node down anyway", "node", r.Node, "err", r.DrainErr)
			}
		}()
	}
	wg.Wait()
}
