package lifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	configv1 "github.com/openshift/api/config/v1"
	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/certs"
)

// ErrClusterDidNotRecover is wrapped by the *RecoveryError RestartPlan's run returns
// when the cluster did not come back in time. The runbook's answer (chapter
// 4) is to restore the cluster to a previous state from an etcd backup:
// runbook 5.3, restore.Plan.
var ErrClusterDidNotRecover = errors.New("cluster did not recover after restart: restore it to a previous cluster state from an etcd backup (runbook 5.3, restore.Plan)")

// RecoveryError says which phase of RestartPlan did not finish and what was
// still wrong. errors.Is(err, ErrClusterDidNotRecover) holds; Unwrap gives
// the cause (a timeout, a cancelled context).
type RecoveryError struct {
	// Phase is "masters", "workers" or "operators".
	Phase string
	// NotReady lists the nodes not Ready, or the ClusterOperators not
	// Available or Degraded, with their state.
	NotReady []string
	Err      error
}

func (e *RecoveryError) Error() string {
	return fmt.Sprintf("restart: %s not ready (%s): %v; %v", e.Phase, strings.Join(e.NotReady, "; "), e.Err, ErrClusterDidNotRecover)
}

func (e *RecoveryError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrClusterDidNotRecover) hold.
func (e *RecoveryError) Is(target error) bool { return target == ErrClusterDidNotRecover }

// RestartOptions configures RestartPlan. The zero value polls every 10 s, gives
// masters and workers 20 minutes each and ClusterOperators 30 minutes,
// approves the valid pending CSRs while nodes are not Ready, and leaves
// unschedulable masters alone (listing them in the result).
type RestartOptions struct {
	// Interval between checks; 10 s when zero.
	Interval time.Duration
	// MastersTimeout, WorkersTimeout and OperatorsTimeout bound each
	// phase; 20, 20 and 30 minutes when zero.
	MastersTimeout   time.Duration
	WorkersTimeout   time.Duration
	OperatorsTimeout time.Duration
	// SkipCSRApproval only waits: pending CSRs are left to someone else.
	SkipCSRApproval bool
	// CSR configures the CSR review (its DryRun reviews without approving;
	// its Logger defaults to Logger).
	CSR certs.ApproveOptions
	// UncordonMasters marks unschedulable masters schedulable once they are
	// Ready (runbook chapter 3's note on drained masters).
	UncordonMasters bool
	// Uncordon lists the nodes to mark schedulable once every master and
	// worker is Ready, in this order: ShutdownResult.Cordoned(), masters
	// first, as current releases' "Restarting the cluster gracefully"
	// uncordons the nodes its shutdown cordoned. A listed node that no
	// longer exists is reported and skipped; nodes not listed are left as
	// they are.
	Uncordon []string
	// Result, when set, is filled as the plan runs (reset when it runs
	// again): the nodes, CSR decisions and ClusterOperators as last seen.
	Result *RestartResult
	// Logger receives the progress lines the plan reports as events; nil
	// discards.
	Logger *slog.Logger
	// Now is the clock of RestartResult.Elapsed; time.Now when nil.
	Now func() time.Time
}

// Validate reports options RestartPlan cannot use, wrapping
// lifeboat.ErrInvalidOptions.
func (o RestartOptions) Validate() error {
	return cmp.Or(
		opterr.Negative("lifecycle.RestartOptions.Interval", o.Interval),
		opterr.Negative("lifecycle.RestartOptions.MastersTimeout", o.MastersTimeout),
		opterr.Negative("lifecycle.RestartOptions.WorkersTimeout", o.WorkersTimeout),
		opterr.Negative("lifecycle.RestartOptions.OperatorsTimeout", o.OperatorsTimeout),
	)
}

func (o RestartOptions) withDefaults() RestartOptions {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	if o.MastersTimeout <= 0 {
		o.MastersTimeout = 20 * time.Minute
	}
	if o.WorkersTimeout <= 0 {
		o.WorkersTimeout = 20 * time.Minute
	}
	if o.OperatorsTimeout <= 0 {
		o.OperatorsTimeout = 30 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CSR.Logger == nil {
		o.CSR.Logger = o.Logger
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// NodeState is a node's readiness as RestartPlan last saw it.
type NodeState struct {
	Name          string
	Ready         bool
	Unschedulable bool
	// Reason is the Ready condition's reason and message when not Ready.
	Reason string
}

// OperatorState is a ClusterOperator's state as RestartPlan last saw it.
type OperatorState struct {
	Name                             string
	Available, Progressing, Degraded bool
	// Message is the Degraded (or, when not Available, Available)
	// condition's message.
	Message string
}

// OK reports Available=True and Degraded not True.
func (o OperatorState) OK() bool { return o.Available && !o.Degraded }

// RestartResult reports a run of RestartPlan, as far as it got.
type RestartResult struct {
	Masters []NodeState
	Workers []NodeState
	// CSRs holds the last decision on each CSR reviewed, sorted by name.
	CSRs []certs.Decision
	// Operators holds every ClusterOperator; NotReadyOperators names those
	// not Available or Degraded.
	Operators         []OperatorState
	NotReadyOperators []string
	// Uncordoned are the nodes made schedulable (UncordonMasters,
	// Uncordon), in order.
	Uncordoned []string
	// UnschedulableMasters are masters left unschedulable: make them
	// schedulable if they were drained for the shutdown.
	UnschedulableMasters []string
	Elapsed              time.Duration
}

type restarter struct {
	kube      kubernetes.Interface
	config    configclient.Interface
	machines  machineclient.Interface
	opts      RestartOptions
	res       *RestartResult
	decisions map[string]certs.Decision
	last      string
	report    func(string) // the running step's progress
	start     time.Time
}

// progress reports msg unless it repeats the previous message.
func (r *restarter) progress(msg string) {
	if msg == r.last {
		return
	}
	r.last = msg
	r.opts.Logger.Info(msg)
	if r.report != nil {
		r.report(msg)
	}
}

func (r *restarter) sortedDecisions() []certs.Decision {
	out := make([]certs.Decision, 0, len(r.decisions))
	for _, d := range r.decisions {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *restarter) waitNodes(ctx context.Context, phase string, masters bool, timeout time.Duration) error {
	var states []NodeState
	err := wait.PollUntilContextTimeout(ctx, r.opts.Interval, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := r.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			r.progress(fmt.Sprintf("%s: API not reachable yet: %v", phase, err))
			return false, nil
		}
		states = states[:0]
		var notReady []string
		for i := range list.Items {
			n := &list.Items[i]
			if isMaster(n) != masters {
				continue
			}
			st := nodeState(n)
			states = append(states, st)
			if !st.Ready {
				notReady = append(notReady, n.Name)
			}
		}
		sort.Slice(states, func(i, j int) bool { return states[i].Name < states[j].Name })
		if masters {
			r.res.Masters = append([]NodeState(nil), states...)
		} else {
			r.res.Workers = append([]NodeState(nil), states...)
		}
		if masters && len(states) == 0 {
			r.progress("masters: no master node listed yet")
			return false, nil
		}
		if len(notReady) == 0 {
			r.progress(fmt.Sprintf("%s: all %d Ready", phase, len(states)))
			return true, nil
		}
		r.progress(fmt.Sprintf("%s: %d of %d not Ready: %s", phase, len(notReady), len(states), strings.Join(notReady, ", ")))
		if !r.opts.SkipCSRApproval {
			r.reviewCSRs(ctx)
		}
		return false, nil
	})
	if err != nil {
		var notReady []string
		for _, st := range states {
			if !st.Ready {
				notReady = append(notReady, st.Name+" "+st.Reason)
			}
		}
		if len(states) == 0 {
			notReady = []string{"no node listed"}
		}
		return &RecoveryError{Phase: phase, NotReady: notReady, Err: err}
	}
	return nil
}

// reviewCSRs approves the valid pending CSRs; errors are progress, not
// failures (the API may still be settling).
func (r *restarter) reviewCSRs(ctx context.Context) {
	csrOpts := r.opts.CSR
	if csrOpts.Config == nil && r.config != nil {
		csrOpts.Config = r.config // the in-cluster names, for UseNodeAddresses
	}
	ds, err := certs.ApprovePendingCSRs(ctx, r.kube, r.machines, csrOpts)
	for _, d := range ds {
		prev, seen := r.decisions[d.Name]
		r.decisions[d.Name] = d
		if d.Outcome == certs.Approved && !d.DryRun {
			r.progress("approved CSR " + d.String())
		} else if !seen || prev.Outcome != d.Outcome || strings.Join(prev.Reasons, ";") != strings.Join(d.Reasons, ";") {
			r.progress("CSR " + d.String())
		}
	}
	if err != nil {
		r.progress(fmt.Sprintf("reviewing CSRs: %v", err))
	}
}

func nodeState(n *corev1.Node) NodeState {
	st := NodeState{Name: n.Name, Unschedulable: n.Spec.Unschedulable, Reason: "no Ready condition"}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			st.Ready = c.Status == corev1.ConditionTrue
			st.Reason = strings.TrimSpace(fmt.Sprintf("Ready=%s %s %s", c.Status, c.Reason, c.Message))
		}
	}
	if st.Ready {
		st.Reason = ""
	}
	return st
}

// uncordon makes unschedulable masters schedulable when asked, and
// otherwise lists them.
func (r *restarter) uncordon(ctx context.Context) error {
	for i, m := range r.res.Masters {
		if !m.Unschedulable {
			continue
		}
		if !r.opts.UncordonMasters {
			r.res.UnschedulableMasters = append(r.res.UnschedulableMasters, m.Name)
			continue
		}
		if _, err := setUnschedulable(ctx, r.kube, m.Name, false); err != nil {
			return fmt.Errorf("restart: making master %s schedulable: %w", m.Name, err)
		}
		r.res.Masters[i].Unschedulable = false
		r.res.Uncordoned = append(r.res.Uncordoned, m.Name)
		r.progress("master " + m.Name + " marked schedulable")
	}
	if len(r.res.UnschedulableMasters) > 0 {
		r.progress("masters still unschedulable: " + strings.Join(r.res.UnschedulableMasters, ", ") + ": " + SchedulableReminder)
	}
	return nil
}

// uncordonListed marks opts.Uncordon schedulable, in order.
func (r *restarter) uncordonListed(ctx context.Context) error {
	for _, n := range r.opts.Uncordon {
		if slices.Contains(r.res.Uncordoned, n) {
			continue
		}
		changed, err := setUnschedulable(ctx, r.kube, n, false)
		switch {
		case apierrors.IsNotFound(err):
			r.progress("node " + n + " to uncordon no longer exists")
			continue
		case err != nil:
			return fmt.Errorf("restart: marking node %s schedulable (oc adm uncordon): %w", n, err)
		}
		if changed {
			r.res.Uncordoned = append(r.res.Uncordoned, n)
			r.progress("node " + n + " marked schedulable")
		}
	}
	return nil
}

func (r *restarter) waitOperators(ctx context.Context) error {
	err := wait.PollUntilContextTimeout(ctx, r.opts.Interval, r.opts.OperatorsTimeout, true, func(ctx context.Context) (bool, error) {
		if !r.opts.SkipCSRApproval {
			// Nodes file kubelet-serving CSRs once their client
			// certificate is issued; approve the valid ones meanwhile.
			r.reviewCSRs(ctx)
		}
		list, err := r.config.ConfigV1().ClusterOperators().List(ctx, metav1.ListOptions{})
		if err != nil {
			r.progress(fmt.Sprintf("operators: cannot list ClusterOperators yet: %v", err))
			return false, nil
		}
		r.res.Operators = r.res.Operators[:0]
		r.res.NotReadyOperators = nil
		for i := range list.Items {
			st := operatorState(&list.Items[i])
			r.res.Operators = append(r.res.Operators, st)
			if !st.OK() {
				r.res.NotReadyOperators = append(r.res.NotReadyOperators, st.Name)
			}
		}
		sort.Slice(r.res.Operators, func(i, j int) bool { return r.res.Operators[i].Name < r.res.Operators[j].Name })
		sort.Strings(r.res.NotReadyOperators)
		if len(r.res.NotReadyOperators) == 0 {
			r.progress(fmt.Sprintf("operators: all %d Available and not Degraded", len(r.res.Operators)))
			return true, nil
		}
		r.progress(fmt.Sprintf("operators: %d of %d not ready: %s", len(r.res.NotReadyOperators), len(r.res.Operators), strings.Join(r.res.NotReadyOperators, ", ")))
		return false, nil
	})
	if err != nil {
		var details []string
		for _, o := range r.res.Operators {
			if !o.OK() {
				details = append(details, fmt.Sprintf("%s Available=%v Degraded=%v %s", o.Name, o.Available, o.Degraded, o.Message))
			}
		}
		if len(r.res.Operators) == 0 {
			details = []string{"ClusterOperators could not be listed"}
		}
		return &RecoveryError{Phase: "operators", NotReady: details, Err: err}
	}
	return nil
}

func operatorState(co *configv1.ClusterOperator) OperatorState {
	st := OperatorState{Name: co.Name}
	var availMsg, degMsg string
	for _, c := range co.Status.Conditions {
		switch c.Type {
		case configv1.OperatorAvailable:
			st.Available, availMsg = c.Status == configv1.ConditionTrue, c.Message
		case configv1.OperatorDegraded:
			st.Degraded, degMsg = c.Status == configv1.ConditionTrue, c.Message
		case configv1.OperatorProgressing:
			st.Progressing = c.Status == configv1.ConditionTrue
		}
	}
	switch {
	case st.Degraded:
		st.Message = degMsg
	case !st.Available:
		st.Message = availMsg
	}
	return st
}
