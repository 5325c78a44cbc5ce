package lifecycle

import (
	"context"
	"fmt"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	corev1 "k8s.io/api/core/v1"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// ShutdownPlan is runbook chapter 3, with what "Shutting down the cluster
// gracefully" added in later releases, as a plan built without I/O:
//
//  1. "check-backup" (read-only): a recent verified backup (or an
//     explicit override), else ErrNoRecentBackup;
//  2. "check-signer" (read-only): the kube-apiserver-to-kubelet signer's
//     expiry, read and reported; with opts.PlannedDuration, a restart
//     planned after it is refused (*SignerExpiryError) unless
//     opts.IgnoreSignerExpiry;
//  3. "list-nodes" (read-only): the nodes, workers first then masters,
//     each sorted by name;
//  4. with opts.Cordon, "cordon": every schedulable node marked
//     unschedulable; a failed cordon uncordons what it cordoned and stops
//     the plan before any host is told to shut down;
//  5. with opts.DrainWorkers, "drain": a parallel step whose sub-steps
//     "drain/<worker>" evict each worker's pods, at most opts.MaxParallel
//     at once; a drain that does not finish is reported skipped and the
//     shutdown goes on, as the documented loop does;
//  6. "shutdown": a parallel step whose sub-steps "shutdown/<node>" tell
//     each host to shut down after opts.Delay ("shutdown -h 1"), workers
//     first, at most opts.MaxParallel at once; every host is told even
//     when another fails, and the run then fails with a *plan.FanoutError
//     whose node errors wrap ErrShutdownIncomplete;
//  7. "reminder/schedulable-masters" (read-only): the runbook's note on
//     masters that were unschedulable before the shutdown.
//
// A dry run (plan.RunOptions.DryRun) runs the checks and the listing and
// reports, per node, what it would cordon, drain and shut down. The run
// returns once every host accepted or refused; hosts power off after the
// delay. Shutting a node down twice is harmless (the second schedule
// replaces the first). The caller shuts off the cluster's dependencies
// (runbook step 2) itself.
//
// It returns an error wrapping lifeboat.ErrInvalidOptions (deps.Kube or deps.Hosts
// nil, or opts.Validate failing) before building anything.
func ShutdownPlan(deps Deps, opts ShutdownOptions) (*plan.Plan, error) {
	if deps.Kube == nil {
		return nil, opterr.Nil("lifecycle.Deps.Kube")
	}
	if deps.Hosts == nil {
		return nil, opterr.Nil("lifecycle.Deps.Hosts")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	sd := &shutdown{deps: deps, opts: opts, res: opts.Result}
	if sd.res == nil {
		sd.res = &ShutdownResult{}
	}
	p := &plan.Plan{Name: "shutdown"}
	desc := fmt.Sprintf("verify the etcd backup in %s (at most %s old)", opts.BackupDir, opts.MaxBackupAge)
	if opts.Override != "" {
		desc = "no backup check: overridden (" + opts.Override + ")"
	}
	signerDesc := "read the kube-apiserver-to-kubelet signer's expiry"
	if opts.PlannedDuration > 0 {
		signerDesc = fmt.Sprintf("check that the kube-apiserver-to-kubelet signer outlasts a %s shutdown", opts.PlannedDuration)
	}
	p.Steps = append(p.Steps,
		plan.Step{ID: "check-backup", Description: desc, ReadOnly: true, Run: sd.checkBackup},
		plan.Step{ID: "check-signer", Description: signerDesc, ReadOnly: true, Run: func(ctx context.Context, _ func(string)) error {
			return checkSigner(ctx, deps.Kube, opts, sd.res)
		}},
		plan.Step{ID: "list-nodes", Description: "list the nodes, workers first then masters", ReadOnly: true, Run: sd.listNodes},
	)
	if opts.Cordon {
		p.Steps = append(p.Steps, plan.Step{
			ID: "cordon", Description: "mark every schedulable node unschedulable (oc adm cordon)",
			Run: sd.cordon, DryRun: sd.cordonDryRun,
		})
	}
	if opts.DrainWorkers {
		p.Steps = append(p.Steps, plan.Step{
			ID:          "drain",
			Description: fmt.Sprintf("evict the pods of every worker (oc adm drain --timeout=%s), %d at once", opts.DrainTimeout, opts.MaxParallel),
			Fanout:      sd.drainSteps, MaxParallel: opts.MaxParallel,
		})
	}
	p.Steps = append(p.Steps,
		plan.Step{
			ID:          "shutdown",
			Description: fmt.Sprintf("shut down every node, workers first (shutdown -h %s), %d at once", minutes(opts.Delay), opts.MaxParallel),
			Fanout:      sd.shutdownSteps, MaxParallel: opts.MaxParallel,
		},
		plan.Step{
			ID: "reminder/schedulable-masters", Description: "masters unschedulable before the shutdown must be marked schedulable after the restart",
			ReadOnly: true, Run: sd.reminder,
		},
	)
	return p, nil
}

// shutdown is the state of one ShutdownPlan across its steps.
type shutdown struct {
	deps  Deps
	opts  ShutdownOptions
	res   *ShutdownResult
	nodes []corev1.Node // as listed by list-nodes, before any cordon
}

func (sd *shutdown) checkBackup(ctx context.Context, _ func(string)) error {
	*sd.res = ShutdownResult{Override: sd.opts.Override, Delay: sd.opts.Delay, Reminder: SchedulableReminder}
	return checkBackup(ctx, sd.opts, sd.res)
}

func (sd *shutdown) listNodes(ctx context.Context, progress func(string)) error {
	sd.res.UnschedulableMasters = nil
	nodes, err := listNodes(ctx, sd.deps.Kube, sd.res)
	if err != nil {
		return err
	}
	sd.nodes = nodes
	sd.res.Nodes = make([]NodeShutdown, len(nodes))
	for i, n := range nodes {
		sd.res.Nodes[i] = NodeShutdown{Node: n.Name, Master: isMaster(&n)}
	}
	progress(fmt.Sprintf("%d nodes", len(nodes)))
	return nil
}

// ensureNodes lists the nodes when list-nodes did not run in this run (a
// resumed run that recorded it as finished).
func (sd *shutdown) ensureNodes(ctx context.Context) error {
	if sd.nodes != nil {
		return nil
	}
	return sd.listNodes(ctx, func(string) {})
}

// node returns the result entry of a node; callers hold no lock (each
// sub-step writes only its own entry).
func (sd *shutdown) node(name string) *NodeShutdown {
	for i := range sd.res.Nodes {
		if sd.res.Nodes[i].Node == name {
			return &sd.res.Nodes[i]
		}
	}
	return &NodeShutdown{Node: name}
}

func (sd *shutdown) shutdownSteps(ctx context.Context) ([]plan.Step, error) {
	if err := sd.ensureNodes(ctx); err != nil {
		return nil, err
	}
	var steps []plan.Step
	for _, n := range sd.nodes {
		name, role := n.Name, "worker"
		if isMaster(&n) {
			role = "master"
		}
		r := sd.node(name)
		steps = append(steps, plan.Step{
			ID:          "shutdown/" + name,
			Description: fmt.Sprintf("shut down %s %s (shutdown -h %s)", role, name, minutes(sd.opts.Delay)),
			Run: func(ctx context.Context, _ func(string)) error {
				err := shutdownNode(ctx, sd.deps.Hosts, name, sd.opts.Delay)
				r.Status, r.Err = ShutdownScheduled, err
				if err != nil {
					r.Status = ShutdownFailed
					err = fmt.Errorf("%w: %w", ErrShutdownIncomplete, err)
				}
				sd.opts.Logger.Info("shutdown", "node", name, "master", r.Master, "status", r.Status, "err", r.Err)
				return err
			},
			DryRun: func(context.Context, func(string)) (string, error) {
				r.Status = ShutdownWouldSchedule
				sd.res.DryRun = true
				return "would run shutdown -h " + minutes(sd.opts.Delay) + " on " + name, nil
			},
		})
	}
	return steps, nil
}

func (sd *shutdown) reminder(context.Context, func(string)) error {
	if len(sd.res.UnschedulableMasters) == 0 {
		return plan.Skip("no master was unschedulable")
	}
	return plan.Skip("after the restart, mark " + strings.Join(sd.res.UnschedulableMasters, ", ") + " schedulable again: " + SchedulableReminder)
}
