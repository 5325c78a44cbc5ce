package lifecycle

import (
	"context"
	"fmt"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// RestartPlan is runbook chapter 4 steps 3 to 7 as a plan built without
// I/O, run after the caller powered on the cluster's dependencies and
// started its machines (steps 1-2):
//
//  1. "wait-masters": wait for every master to be Ready; while one is
//     not, review the pending CSRs and approve the valid ones
//     (certs.ApprovePendingCSRs);
//  2. "uncordon-masters": with opts.UncordonMasters, mark unschedulable
//     masters schedulable; otherwise list them (RestartResult.
//     UnschedulableMasters, the runbook's note on drained masters);
//  3. "wait-workers": the same wait for the workers;
//  4. with opts.Uncordon, "uncordon": mark those nodes schedulable, in
//     order (ShutdownResult.Cordoned(), as current releases' "Restarting
//     the cluster gracefully" does);
//  5. with deps.Config, "wait-operators": wait for every ClusterOperator
//     to be Available and not Degraded, still approving valid CSRs (the
//     kubelet-serving CSRs nodes file once their client certificate is
//     issued); without it, "review-csrs" approves them once (unless
//     opts.SkipCSRApproval).
//
// API errors while the control plane comes up are reported as progress
// events and retried until the phase's timeout. A phase that does not
// finish fails its step with a *RecoveryError (errors.Is
// ErrClusterDidNotRecover) listing what is not ready: the runbook then
// restores from a backup (5.3). A dry run (plan.RunOptions.DryRun) reports
// where the nodes stand and which pending CSRs would be approved, and
// approves and uncordons nothing.
//
// It returns an error wrapping lifeboat.ErrInvalidOptions (deps.Kube nil, or
// opts.Validate failing) before building anything.
func RestartPlan(deps Deps, opts RestartOptions) (*plan.Plan, error) {
	if deps.Kube == nil {
		return nil, opterr.Nil("lifecycle.Deps.Kube")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	r := &restarter{kube: deps.Kube, config: deps.Config, machines: deps.Machine, opts: opts, res: opts.Result}
	if r.res == nil {
		r.res = &RestartResult{}
	}
	p := &plan.Plan{Name: "restart"}
	p.Steps = append(p.Steps,
		plan.Step{ID: "wait-masters", Description: fmt.Sprintf("wait up to %s for every master to be Ready, approving valid pending CSRs", opts.MastersTimeout),
			Run: r.step(func(ctx context.Context) error {
				*r.res = RestartResult{}
				r.decisions, r.last, r.start = map[string]certs.Decision{}, "", opts.Now()
				return r.waitNodes(ctx, "masters", true, opts.MastersTimeout)
			}), DryRun: r.preview(true)},
		plan.Step{ID: "uncordon-masters", Description: "mark unschedulable masters schedulable (UncordonMasters), else list them",
			Run: r.step(r.uncordon)},
		plan.Step{ID: "wait-workers", Description: fmt.Sprintf("wait up to %s for every worker to be Ready, approving valid pending CSRs", opts.WorkersTimeout),
			Run:    r.step(func(ctx context.Context) error { return r.waitNodes(ctx, "workers", false, opts.WorkersTimeout) }),
			DryRun: r.preview(false)},
	)
	if len(opts.Uncordon) > 0 {
		p.Steps = append(p.Steps, plan.Step{ID: "uncordon", Description: "mark " + strings.Join(opts.Uncordon, ", ") + " schedulable (oc adm uncordon)",
			Run: r.step(r.uncordonListed)})
	}
	switch {
	case deps.Config != nil:
		p.Steps = append(p.Steps, plan.Step{ID: "wait-operators", Description: fmt.Sprintf("wait up to %s for every ClusterOperator to be Available and not Degraded", opts.OperatorsTimeout),
			Run: r.step(r.waitOperators)})
	case !opts.SkipCSRApproval:
		p.Steps = append(p.Steps, plan.Step{ID: "review-csrs", Description: "approve the valid pending CSRs (no config client: ClusterOperators not checked)",
			Run: r.step(func(ctx context.Context) error {
				r.progress("no config client: ClusterOperators not checked")
				r.reviewCSRs(ctx)
				return nil
			})})
	}
	return p, nil
}

// step adapts a phase to a plan step: its progress lines become the
// step's events, and the result's CSRs and Elapsed are brought up to date.
func (r *restarter) step(phase func(ctx context.Context) error) func(context.Context, func(string)) error {
	return func(ctx context.Context, progress func(string)) error {
		r.report = progress
		if r.decisions == nil {
			r.decisions, r.start = map[string]certs.Decision{}, r.opts.Now() // resumed past wait-masters
		}
		defer func() {
			r.report = nil
			r.res.CSRs = r.sortedDecisions()
			r.res.Elapsed = r.opts.Now().Sub(r.start)
		}()
		return phase(ctx)
	}
}

// preview is a wait phase's dry run: where the nodes stand and which
// pending CSRs a review would approve.
func (r *restarter) preview(masters bool) func(context.Context, func(string)) (string, error) {
	return func(ctx context.Context, _ func(string)) (string, error) {
		list, err := r.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return "", fmt.Errorf("listing nodes: %w", err)
		}
		var notReady []string
		total := 0
		for i := range list.Items {
			if isMaster(&list.Items[i]) != masters {
				continue
			}
			total++
			if st := nodeState(&list.Items[i]); !st.Ready {
				notReady = append(notReady, st.Name)
			}
		}
		msg := fmt.Sprintf("would wait: %d of %d not Ready", len(notReady), total)
		if len(notReady) > 0 {
			msg += " (" + strings.Join(notReady, ", ") + ")"
		}
		if len(notReady) == 0 || r.opts.SkipCSRApproval {
			return msg, nil
		}
		csrOpts := r.opts.CSR
		csrOpts.DryRun = true
		if csrOpts.Config == nil && r.config != nil {
			csrOpts.Config = r.config
		}
		ds, err := certs.ApprovePendingCSRs(ctx, r.kube, r.machines, csrOpts)
		if err != nil {
			return msg + fmt.Sprintf("; reviewing CSRs: %v", err), nil
		}
		var would []string
		for _, d := range ds {
			if d.Outcome == certs.Approved {
				would = append(would, d.Name)
			}
		}
		if len(would) > 0 {
			msg += "; would approve CSRs " + strings.Join(would, ", ")
		}
		return msg, nil
	}
}
