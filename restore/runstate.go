package restore

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// admit decides, before any step runs, what to do with a state already on
// the recovery host:
//   - none: the run starts fresh;
//   - the same identity as this run: resume it (finished steps are
//     skipped; a run that finished all its steps only retires its state);
//   - another identity, finished (or nothing done yet): retire it and
//     start fresh;
//   - another identity (or none recorded), unfinished: refuse with
//     *AnotherRunError, unless AbandonUnfinished retires it.
//
// With dryRun nothing is retired: the conflict is reported as an error
// (without AbandonUnfinished) or a report line.
func (r *runner) admit(ctx context.Context, dryRun bool) error {
	d, exists, err := r.state.peek(ctx)
	if err != nil || !exists {
		return err
	}
	note := func(msg string) { r.log.Info(msg, "host", r.deps.Recovery.Name(), "state", r.state.Path()) }
	var want RunIdentity
	if d.Identity != nil || (d.progressed() && !d.Done()) {
		if want, err = r.requestedIdentity(ctx); err != nil {
			return err
		}
	}
	if d.Identity != nil && len(d.Identity.Differences(want)) == 0 {
		note(fmt.Sprintf("resuming the run started %s (%d steps finished)", d.Started.UTC().Format(time.RFC3339), len(d.Finished)))
		return nil
	}
	why := retiredAbandoned
	switch {
	case d.Done():
		why = retiredFinished
	case !d.progressed():
		// Only verify-backup ran: nothing on any host to account for.
	case !r.opts.AbandonUnfinished:
		e := &AnotherRunError{
			Host: r.deps.Recovery.Name(), StatePath: r.state.Path(), Unfinished: d.Identity,
			Started: d.Started, Steps: len(d.Finished), Moves: len(d.Moves), Requested: want,
			AbandonedPath: retiredName(r.state.Path(), retiredAbandoned, r.opts.Now()),
		}
		if d.Identity != nil {
			e.Differences = d.Identity.Differences(want)
		} else {
			e.Differences = []string{"unknown (the state records no identity)"}
		}
		return e
	}
	at := r.opts.Now()
	if why == retiredFinished && !d.Completed.IsZero() {
		at = d.Completed
	}
	if dryRun {
		note(fmt.Sprintf("would retire the %s state of another run at %s to %s", why, r.state.Path(), retiredName(r.state.Path(), why, at)))
		return nil
	}
	if g := d.QuorumGuard; g != nil && !g.Restored {
		// The abandoned run left the etcd quorum guard off: put it back
		// as that run found it before its state is retired.
		if _, err := r.putGuardBack(ctx, *g, "abandon", func(msg string) { note(msg) }); err != nil {
			return fmt.Errorf("putting back the quorum guard the abandoned run turned off: %w", err)
		}
		note("the quorum guard the abandoned run turned off was put back: " + g.Previous.String())
	}
	to, err := r.state.Retire(ctx, why, at)
	if err != nil {
		return err
	}
	r.previous = to
	note(fmt.Sprintf("the %s state of another run was moved to %s (kept for audit)", why, to))
	return nil
}

// complete retires the state of a run whose every step finished, named
// with its finish time, so that the next run on the host starts fresh. It
// returns the state as retired (RetiredTo set).
func (r *runner) complete(ctx context.Context) (StateData, error) {
	if err := r.state.Update(ctx, func(d *StateData) {
		if d.Completed.IsZero() {
			d.Completed = r.opts.Now().UTC()
		}
	}); err != nil {
		return StateData{}, err
	}
	d, err := r.state.Get(ctx)
	if err != nil {
		return d, err
	}
	to, err := r.state.Retire(ctx, retiredFinished, d.Completed)
	if err != nil {
		return d, err
	}
	d.RetiredTo = to
	return d, nil
}

// stepIDs lists the IDs of p's steps, for the state.
func stepIDs(p *plan.Plan) []string {
	out := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		out[i] = s.ID
	}
	return out
}

// recordRun writes the run's identity and plan into its state (by
// verify-backup, in the state's first write).
func (r *runner) recordRun(d *StateData, id RunIdentity) {
	d.Identity, d.Steps = &id, r.steps
	if r.previous != "" {
		d.Previous = r.previous
	}
}
