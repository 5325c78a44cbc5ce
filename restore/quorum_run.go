package restore

import (
	"context"
	"fmt"
)

// admitQuorum resumes a state of the same run, retires a finished one,
// and refuses another unfinished run (*AnotherRunError) unless
// AbandonUnfinished retires it (the quorum guard it left off put back
// first).
func (r *quorumRunner) admitQuorum(ctx context.Context) error {
	d, exists, err := r.state.peek(ctx)
	if err != nil || !exists {
		return err
	}
	want := RunIdentity{Recovery: r.deps.Recovery.Name(), Method: ForceNewCluster}
	for _, h := range r.deps.Others {
		want.Others = append(want.Others, h.Name())
	}
	for n := range r.q.Unreachable {
		want.LostMasters = append(want.LostMasters, n)
	}
	if d.Identity != nil && len(d.Identity.Differences(want)) == 0 && !d.Done() {
		return nil
	}
	if d.Done() || !d.progressed() {
		to, err := r.state.Retire(ctx, retiredFinished, r.opts.Now())
		r.previous = to
		return err
	}
	if r.q.AbandonUnfinished {
		if g := d.QuorumGuard; g != nil && !g.Restored {
			if _, err := r.putGuardBack(ctx, *g, "abandon", func(msg string) { r.log.Info(msg) }); err != nil {
				return fmt.Errorf("putting back the quorum guard the abandoned run turned off: %w", err)
			}
		}
		to, err := r.state.Retire(ctx, retiredAbandoned, r.opts.Now())
		r.previous = to
		return err
	}
	e := &AnotherRunError{Host: r.deps.Recovery.Name(), StatePath: r.state.Path(), Unfinished: d.Identity,
		Started: d.Started, Steps: len(d.Finished), Moves: len(d.Moves), Requested: want,
		AbandonedPath: retiredName(r.state.Path(), retiredAbandoned, r.opts.Now())}
	if d.Identity != nil {
		e.Differences = d.Identity.Differences(want)
	}
	return e
}
