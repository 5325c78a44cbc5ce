package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/lifeboat-dev/lifeboat/internal/names"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// Condition type and reason the runbook checks (5.3.1 step 11).
const (
	nodeInstallerProgressing = names.NodeInstallerProgressing
	allNodesAtLatestRevision = names.AllNodesAtLatestRevision
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
	if len(s.Nodes) == 0 || s.Condition == nil || s.Condition.Reason != allNodesAtLatestRevision {
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
	if s == nil {
		return "no status seen"
	}
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
		if sp.Status.Conditions[i].Type == nodeInstallerProgressing {
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
	c, err := clientFor("Revisions", ops, target)
	if err != nil {
		return nil, err
	}
	obj, err := c.get(ctx)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: reading %s/%s: %w", target, objectName, err)
	}
	s, _ := revisionStatusOf(target, obj)
	return s, nil
}

// WaitOptions configures WaitAllNodesAtLatestRevision. The zero value waits
// for the latest revision as each status read says it (see the function),
// and logs nothing.
type WaitOptions struct {
	// After is the redeployment the wait follows, as ForceRedeploy or
	// ForceRedeployOnce returned it: the wait then ends only on a revision
	// newer than After.AfterRevision, so it cannot return on the state
	// from before the redeployment. The cluster's static pod operators do
	// not maintain status.observedGeneration, so the revision, not the
	// object's generation, is what tells the rollout apart.
	After RedeployRecord
	// StallTimeout bounds how long, when After is set,
	// the operator may show no revision newer than AfterRevision and no
	// change at all in its rollout status (latest revision, node revisions,
	// NodeInstallerProgressing) before the wait gives up with a
	// *RolloutStalledError instead of waiting until ctx ends. 10 minutes
	// when zero (an operator restarting after a recovery may take minutes
	// before it acts); negative disables the check. It counts from the
	// start of the wait and restarts at every change seen.
	StallTimeout time.Duration
	// Resync is how often the object is listed afresh besides the watch,
	// so that a watch event lost on the way (a client or proxy that drops
	// one) delays the wait by at most Resync; 15 seconds when zero.
	Resync time.Duration
	// Logger receives the progress lines; discarded when nil.
	Logger *slog.Logger
}

// ErrRolloutNotFinished wraps the error WaitAllNodesAtLatestRevision returns
// when ctx ends before the rollout finished; the message carries the last
// state seen.
var ErrRolloutNotFinished = errors.New("rollout not finished")

// Defaults of WaitOptions.
const (
	defaultStallTimeout = 10 * time.Minute
	defaultResync       = 15 * time.Second
)

// WaitAllNodesAtLatestRevision waits until every node of target runs the
// latest available revision (5.3.1 step 11: NodeInstallerProgressing reason
// AllNodesAtLatestRevision, "3 nodes are at revision 7") and returns that
// revision.
//
// Given opts.After (what ForceRedeploy returned), it returns only once
// latestAvailableRevision is newer than After.AfterRevision and every node
// runs it: never on the state from before the redeployment. Given none, it
// returns on the first status read in which every node's currentRevision
// equals that status's latestAvailableRevision and the condition says
// AllNodesAtLatestRevision, at once if the operator is idle, possibly
// before a redeployment forced just earlier was picked up.
//
// Each change of Summary() ("2 nodes are at revision 6; 1 nodes are at
// revision 7") is reported with plan.ReportProgress: as a Progress event
// of the plan step calling it, or through plan.WithReport. It lists and watches the operator object (re-listing when the
// watch expires, and every WaitOptions.Resync in case an event was lost)
// instead of polling, so it returns as soon as the status that completes
// the rollout is written. It stops when ctx ends, with an error wrapping
// both ctx.Err() and ErrRolloutNotFinished. After a forced redeployment
// (AfterRevision or Reason set), an operator that makes no new revision and
// changes nothing for WaitOptions.StallTimeout ends the wait early with a
// *RolloutStalledError (errors.Is ErrRolloutStalled) naming the reason.
func WaitAllNodesAtLatestRevision(ctx context.Context, ops operatorclient.Interface, target Operator, opts WaitOptions) (int32, error) {
	c, err := clientFor("WaitAllNodesAtLatestRevision", ops, target)
	if err != nil {
		return 0, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	selector := fields.OneTermEqualSelector("metadata.name", objectName).String()
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
	stall := opts.StallTimeout
	if stall == 0 {
		stall = defaultStallTimeout
	}
	after := opts.After.AfterRevision
	watchStall := stall > 0 && (after > 0 || opts.After.Reason != "")
	resync := opts.Resync
	if resync <= 0 {
		resync = defaultResync
	}
	var last *RevisionStatus
	lastSummary := ""
	lastKey := ""
	start := time.Now()
	lastChange := start
	var done int32
	cond := func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted || ev.Type == watch.Error {
			return false, nil
		}
		s, ok := revisionStatusOf(target, ev.Object)
		if !ok {
			return false, nil
		}
		if sp, _ := staticPodOf(ev.Object); sp.Name != objectName {
			return false, nil
		}
		last = s
		if key := s.progressKey(); key != lastKey {
			if lastKey != "" {
				lastChange = time.Now()
			}
			lastKey = key
		}
		if sum := s.Summary(); sum != lastSummary {
			lastSummary = sum
			log.InfoContext(ctx, "rollout", "operator", string(target), "latestAvailableRevision", s.LatestAvailableRevision, "status", sum)
			plan.ReportProgress(ctx, sum)
		}
		if s.LatestAvailableRevision <= after || !s.AllAtLatest() {
			return false, nil
		}
		done = s.LatestAvailableRevision
		return true, nil
	}
	for {
		// Each pass lists afresh and then watches, for at most resync or
		// until the stall bound, whichever comes first.
		pass := resync
		if watchStall {
			if left := stall - time.Since(lastChange); left < pass {
				pass = max(left, time.Millisecond)
			}
		}
		pctx, cancel := context.WithTimeout(ctx, pass)
		_, err = watchtools.UntilWithSync(pctx, lw, c.empty, nil, cond)
		cancel()
		if err == nil {
			return done, nil
		}
		if ctx.Err() != nil || !(wait.Interrupted(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, watchtools.ErrWatchClosed)) {
			break
		}
		if watchStall && last != nil && last.LatestAvailableRevision <= after && time.Since(lastChange) >= stall {
			return 0, &RolloutStalledError{
				Operator: target, Reason: opts.After.Reason, CurrentReason: last.ForceRedeploymentReason,
				AfterRevision: after, Status: last, Waited: time.Since(lastChange),
			}
		}
	}
	{
		state := "no status seen"
		if last != nil {
			state = fmt.Sprintf("latest available revision %d, %s", last.LatestAvailableRevision, last.Summary())
			if last.Condition != nil {
				state += fmt.Sprintf(", %s reason %s", nodeInstallerProgressing, last.Condition.Reason)
			}
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return 0, fmt.Errorf("lifecycle: waiting for all %s nodes at the latest revision (after %d): %w (%s): %w",
			target, after, ErrRolloutNotFinished, state, err)
	}
}

// progressKey is what changes while an operator acts on a rollout.
func (s *RevisionStatus) progressKey() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", s.LatestAvailableRevision)
	for _, n := range s.Nodes {
		fmt.Fprintf(&b, ";%s=%d/%d", n.Node, n.CurrentRevision, n.TargetRevision)
	}
	if s.Condition != nil {
		b.WriteString(";" + s.Condition.Reason)
	}
	return b.String()
}

// ErrRolloutStalled is matched (errors.Is) by a *RolloutStalledError.
var ErrRolloutStalled = errors.New("forced redeployment not acted upon")

// RolloutStalledError is returned by WaitAllNodesAtLatestRevision when,
// after a forced redeployment, the operator made no revision newer than
// AfterRevision and changed nothing in its rollout status for
// WaitOptions.StallTimeout: the redeployment was not acted upon (the
// operator is down, or the reason was overwritten or never landed).
type RolloutStalledError struct {
	Operator Operator
	// Reason is the forceRedeploymentReason the caller set; CurrentReason
	// the one the object carried when the wait gave up.
	Reason, CurrentReason string
	AfterRevision         int32
	// Status is the last status seen.
	Status *RevisionStatus
	// Waited is how long nothing changed.
	Waited time.Duration
}

func (e *RolloutStalledError) Error() string {
	var latest int32
	if e.Status != nil {
		latest = e.Status.LatestAvailableRevision
	}
	msg := fmt.Sprintf("lifecycle: %s/%s: forceRedeploymentReason %q was not acted upon: no revision after %d and no rollout progress for %s (latest available revision %d, %s)",
		e.Operator, objectName, e.Reason, e.AfterRevision, e.Waited.Round(time.Second), latest, e.Status.Summary())
	if e.CurrentReason != e.Reason {
		msg += fmt.Sprintf("; the object now carries forceRedeploymentReason %q", e.CurrentReason)
	}
	return msg
}

// Is reports whether target is ErrRolloutStalled.
func (e *RolloutStalledError) Is(target error) bool { return target == ErrRolloutStalled }
