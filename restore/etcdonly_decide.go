package restore

import (
	"context"

	"github.com/lifeboat-dev/lifeboat/release"
)

// decided is a release.Detect answer Run obtained before building its
// plan; verify-backup reports it instead of asking the cluster again.
type decided struct {
	d   release.Decision
	err error
}

// statedGeneration is the generation Options.Release states
// (release.Options.Stated), GenerationUnknown when it states none. It
// does no I/O.
func statedGeneration(o Options) release.Generation {
	d, _ := o.Release.Stated()
	return d.Generation
}

// What decided a ProcedureChoice (ProcedureChoice.DecidedBy).
const (
	// DecidedByState: the unfinished run on the recovery host (its state
	// at Options.StatePath) recorded its procedure; resuming keeps it.
	DecidedByState = "state"
	// DecidedByOptions: Options.Release states the generation or a version.
	DecidedByOptions = "options"
	// DecidedByCluster: release.Detect, from the ClusterVersion
	// (Deps.Config) and the recovery host's etcd static pod and scripts.
	DecidedByCluster = "cluster"
)

// ProcedureChoice is which restore procedure ResolvePlan and Run build,
// and why.
type ProcedureChoice struct {
	// Generation is the decided procedure generation; GenerationUnknown
	// when release.Detect decided nothing (Err).
	Generation release.Generation
	// Plan is the generation of the plan built: GenerationEtcdOnly for
	// the etcd-only restore (Generation etcd-only, AllowClassicOnEtcdOnly
	// false), else GenerationClassic.
	Plan release.Generation
	// Version is the version that decides the classic plan's quorum guard
	// steps: the recorded or detected one, else Options.Release.Version,
	// else Options.ClusterVersion; "" when none is known.
	Version string
	// DecidedBy is DecidedByState, DecidedByOptions or DecidedByCluster.
	DecidedBy string
	// Recorded is the resumed run's recorded decision (DecidedByState).
	Recorded *ReleaseRecord
	// Detected is release.Detect's decision with every piece of evidence
	// read (DecidedByCluster, when Err is nil).
	Detected *release.Decision
	// Err is release.Detect's error (DecidedByCluster): an
	// *release.UndecidedError when nothing decided (the classic plan,
	// whose verify-backup says so), or a refusal (an unsupported release,
	// a refused conflict) that the plan's verify-backup reports as a
	// *PreflightError.
	Err error
}

// String is the choice on one line: "etcd-only plan: decided by cluster:
// generation etcd-only (4.18+), from ClusterVersion ...".
func (c ProcedureChoice) String() string {
	s := c.Plan.String() + " plan: decided by " + c.DecidedBy + ": "
	switch {
	case c.Recorded != nil:
		return s + "the unfinished run recorded " + c.Recorded.Line
	case c.Detected != nil:
		return s + c.Detected.String()
	case c.Err != nil:
		return s + "nothing decided (" + c.Err.Error() + ")"
	}
	return s + "generation " + c.Generation.String() + " (" + c.Generation.Releases() + "), release " + orUnknown(c.Version)
}

// decideForRun chooses the procedure Run and ResolvePlan build, reading
// only:
//   - an unfinished state on the recovery host that recorded a decision
//     (a resumed run) keeps that run's procedure, unless
//     AbandonUnfinished will retire it;
//   - Options.Release's statement wins next;
//   - else release.Detect decides (returned for verify-backup to report).
//
// The etcd-only generation builds the etcd-only plan unless
// AllowClassicOnEtcdOnly; everything else, including no decision, the
// classic one (whose verify-backup says why). The choice's Version is
// the version the classic plan's quorum guard steps are decided by (the
// recorded or detected one, else planVersion; "" when none is known).
func decideForRun(ctx context.Context, deps Deps, opts Options) (ProcedureChoice, *decided, error) {
	c, pre, err := decideGeneration(ctx, deps, opts)
	if err != nil {
		return ProcedureChoice{}, nil, err
	}
	c.Plan = release.GenerationClassic
	if c.Generation == release.GenerationEtcdOnly && !opts.AllowClassicOnEtcdOnly {
		c.Plan = release.GenerationEtcdOnly
	}
	return c, pre, nil
}

func decideGeneration(ctx context.Context, deps Deps, opts Options) (ProcedureChoice, *decided, error) {
	o, err := validated(deps, opts)
	if err != nil {
		return ProcedureChoice{}, nil, err
	}
	or := func(v string) string {
		if v != "" {
			return v
		}
		return planVersion(o)
	}
	if !o.AbandonUnfinished {
		st := newState(deps.Recovery, o.StatePath)
		d, exists, err := st.peek(ctx)
		if err != nil {
			return ProcedureChoice{}, nil, err
		}
		if exists && d.Release != nil && !d.Done() {
			c := ProcedureChoice{Generation: d.Release.Generation, Version: or(d.Release.Version), DecidedBy: DecidedByState, Recorded: d.Release}
			if d.Release.ClassicAccepted {
				c.Generation = release.GenerationClassic
			}
			return c, nil, nil
		}
	}
	if g := statedGeneration(o); g != release.GenerationUnknown {
		return ProcedureChoice{Generation: g, Version: or(""), DecidedBy: DecidedByOptions}, nil, nil
	}
	d, err := release.Detect(ctx, release.Deps{Config: deps.Config, Host: deps.Recovery}, o.Release)
	if ctx.Err() != nil {
		return ProcedureChoice{}, nil, ctx.Err()
	}
	c := ProcedureChoice{Generation: d.Generation, Version: or(d.Version), DecidedBy: DecidedByCluster, Err: err}
	if err == nil {
		c.Detected = &d
	}
	return c, &decided{d: d, err: err}, nil
}

// detect is release.Detect for checkRelease: Run's earlier answer the
// first time, else asked now.
func (r *runner) detect(ctx context.Context) (release.Decision, error) {
	if p := r.decided; p != nil {
		r.decided = nil
		return p.d, p.err
	}
	return release.Detect(ctx, release.Deps{Config: r.deps.Config, Host: r.deps.Recovery}, r.opts.Release)
}
