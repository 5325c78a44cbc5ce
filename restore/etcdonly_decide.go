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

// statedGeneration is the generation Options.Release states (Generation,
// else Version's), GenerationUnknown when it states none. It does no I/O.
func statedGeneration(o Options) release.Generation {
	if o.Release.Generation != release.GenerationUnknown {
		return o.Release.Generation
	}
	if o.Release.Version != "" {
		if g, err := release.GenerationOfVersion(o.Release.Version); err == nil {
			return g
		}
	}
	return release.GenerationUnknown
}

// decideForRun chooses the procedure Run builds, reading only:
//   - an unfinished state on the recovery host that recorded a decision
//     (a resumed run) keeps that run's procedure, unless
//     AbandonUnfinished will retire it;
//   - Options.Release's statement wins next;
//   - else release.Detect decides (returned for verify-backup to report).
//
// The etcd-only generation builds the etcd-only plan unless
// AllowClassicOnEtcdOnly; everything else, including no decision, the
// classic one (whose verify-backup says why). It also returns the version
// the classic plan's quorum guard steps are decided by (the recorded or
// detected one, else planVersion; "" when none is known).
func decideForRun(ctx context.Context, deps Deps, opts Options) (release.Generation, string, *decided, error) {
	o, err := validated(deps, opts)
	if err != nil {
		return 0, "", nil, err
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
			return 0, "", nil, err
		}
		if exists && d.Release != nil && !d.Done() {
			if d.Release.ClassicAccepted {
				return release.GenerationClassic, or(d.Release.Version), nil, nil
			}
			return d.Release.Generation, or(d.Release.Version), nil, nil
		}
	}
	if g := statedGeneration(o); g != release.GenerationUnknown {
		return g, or(""), nil, nil
	}
	d, err := release.Detect(ctx, release.Deps{Config: deps.Config, Host: deps.Recovery}, o.Release)
	if ctx.Err() != nil {
		return 0, "", nil, ctx.Err()
	}
	return d.Generation, or(d.Version), &decided{d: d, err: err}, nil
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
