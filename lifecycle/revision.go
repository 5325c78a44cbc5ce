package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// Condition type and reason the runbook checks (5.3.1 step 11).
const (
	NodeInstallerProgressing = "NodeInstallerProgressing"
	AllNodesAtLatestRevision = "AllNodesAtLatestRevision"
)

// NodeRevision is one entry of status.nodeStatuses.
type NodeRevision struct {
	Node            string
	CurrentRevision int32
	TargetRevision  int32
}

// RevisionStatus is the rollout state of one static-pod operator.
type RevisionStatus struct {
	Operator                Operator
	ForceRedeploymentReason string
	LatestAvailableRevision int32
	Nodes                   []NodeRevision
	// Condition is the NodeInstallerProgressing condition; nil when absent.
	Condition *operatorv1.OperatorCondition
}

// AllAtLatest reports whether the rollout is complete: there is at least one
// node, every node's currentRevision equals latestAvailableRevision and the
// NodeInstallerProgressing reason is AllNodesAtLatestRevision.
func (s *RevisionStatus) AllAtLatest() bool {
	if len(s.Nodes) == 0 || s.Condition == nil || s.Condition.Reason != AllNodesAtLatestRevision {
		return false
	}
	for _, n := range s.Nodes {
		if n.CurrentRevision != s.LatestAvailableRevision {
			return false
		}
	}
	return true
}

// Summary describes where the nodes are in the runbook's words:
// "3 nodes are at revision 7", "2 nodes are at revision 6; 1 nodes are at
// revision 7", with "; 0 nodes have achieved new revision 8" while no node
// has reached the latest available revision.
func (s *RevisionStatus) Summary() string {
	counts := map[int32]int{}
	for _, n := range s.Nodes {
		counts[n.CurrentRevision]++
	}
	revs := make([]int32, 0, len(counts))
	for r := range counts {
		revs = append(revs, r)
	}
	slices.Sort(revs)
	parts := make([]string, 0, len(revs)+1)
	for _, r := range revs {
		parts = append(parts, fmt.Sprintf("%d nodes are at revision %d", counts[r], r))
	}
	if s.LatestAvailableRevision > 0 && counts[s.LatestAvailableRevision] == 0 {
		parts = append(parts, fmt.Sprintf("0 nodes have achieved new revision %d", s.LatestAvailableRevision))
	}
	if len(parts) == 0 {
		return "no node statuses reported"
	}
	return strings.Join(parts, "; ")
}

func revisionStatusOf(target Operator, obj runtime.Object) (*RevisionStatus, bool) {
	sp, ok := staticPodOf(obj)
	if !ok {
		return nil, false
	}
	s := &RevisionStatus{
		Operator:                target,
		ForceRedeploymentReason: sp.Spec.ForceRedeploymentReason,
		LatestAvailableRevision: sp.Status.LatestAvailableRevision,
	}
	for _, n := range sp.Status.NodeStatuses {
		s.Nodes = append(s.Nodes, NodeRevision{Node: n.NodeName, CurrentRevision: n.CurrentRevision, TargetRevision: n.TargetRevision})
	}
	for i := range sp.Status.Conditions {
		if sp.Status.Conditions[i].Type == NodeInstallerProgressing {
			c := sp.Status.Conditions[i]
			s.Condition = &c
		}
	}
	return s, true
}

// Revisions reads the current rollout state of target. Its
// LatestAvailableRevision, read before ForceRedeploy, is the AfterRevision
// to give WaitAllNodesAtLatestRevision.
func Revisions(ctx context.Context, ops operatorclient.Interface, target Operator) (*RevisionStatus, error) {
	c, err := clientFor(ops, target)
	if err != nil {
		return nil, err
	}
	obj, err := c.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: reading %s/%s: %w", target, ObjectName, err)
	}
	s, _ := revisionStatusOf(target, obj)
	return s, nil
}

// WaitOptions configures WaitAllNodesAtLatestRevision. The zero value waits
// for the current latest revision, reports nothing and logs to
// slog.Default().
type WaitOptions struct {
	// AfterRevision, when non-zero, is the latestAvailableRevision seen
	// before a redeployment was forced: the wait only ends on a revision
	// newer than it, so it cannot return on the state before the rollout.
	AfterRevision int32
	// Progress receives Summary() each time it changes, e.g.
	// "2 nodes are at revision 6; 1 nodes are at revision 7".
	Progress func(msg string)
	// Logger receives the same progress lines; slog.Default() when nil.
	Logger *slog.Logger
}

// ErrRolloutNotFinished wraps the error WaitAllNodesAtLatestRevision returns
// when ctx ends before the rollout finished; the message carries the last
// state seen.
var ErrRolloutNotFinished = errors.New("rollout not finished")

// WaitAllNodesAtLatestRevision waits until every node of target runs the
// latest available revision (5.3.1 step 11: NodeInstallerProgressing reason
// AllNodesAtLatestRevision, "3 nodes are at revision 7") and returns that
// revision. It lists and watches the operator object (re-listing when the
// watch expires) instead of polling, so it returns as soon as the status
// that completes the rollout is written. It stops when ctx ends, with an
// error wrapping both ctx.Err() and ErrRolloutNotFinished.
func WaitAllNodesAtLatestRevision(ctx context.Context, ops operatorclient.Interface, target Operator, opts WaitOptions) (int32, error) {
	c, err := clientFor(ops, target)
	if err != nil {
		return 0, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	selector := fields.OneTermEqualSelector("metadata.name", ObjectName).String()
	lw := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = selector
			return c.list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return c.watch(ctx, o)
		},
	}, ops) // fakes say they cannot stream lists
	var last *RevisionStatus
	lastSummary := ""
	var done int32
	_, err = watchtools.UntilWithSync(ctx, lw, c.empty, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted || ev.Type == watch.Error {
			return false, nil
		}
		s, ok := revisionStatusOf(target, ev.Object)
		if !ok {
			return false, nil
		}
		if sp, _ := staticPodOf(ev.Object); sp.Name != ObjectName {
			return false, nil
		}
		last = s
		if sum := s.Summary(); sum != lastSummary {
			lastSummary = sum
			log.InfoContext(ctx, "rollout", "operator", string(target), "latestAvailableRevision", s.LatestAvailableRevision, "status", sum)
			if opts.Progress != nil {
				opts.Progress(sum)
			}
		}
		if s.LatestAvailableRevision <= opts.AfterRevision || !s.AllAtLatest() {
			return false, nil
		}
		done = s.LatestAvailableRevision
		return true, nil
	})
	if err != nil {
		state := "no status seen"
		if last != nil {
			state = fmt.Sprintf("latest available revision %d, %s", last.LatestAvailableRevision, last.Summary())
			if last.Condition != nil {
				state += fmt.Sprintf(", %s reason %s", NodeInstallerProgressing, last.Condition.Reason)
			}
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return 0, fmt.Errorf("lifecycle: waiting for all %s nodes at the latest revision (after %d): %w (%s): %w",
			target, opts.AfterRevision, ErrRolloutNotFinished, state, err)
	}
	return done, nil
}
