package restore

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// GuardRecord is the record of the etcd quorum guard kept by the etcd-only
// restore, the classic restore of 4.11-4.17 and the quorum restore
// in its state. It is written before the guard is turned off, so that
// whatever happens next (a failure, a cancel, the process killed) the
// override is put back as it was found, never as a later read finds it
// (which, after the crash, would be "off").
type GuardRecord struct {
	// Previous is the override as found on etcds/cluster after the
	// restore (the restored object's), before this run changed it.
	Previous lifecycle.QuorumGuard `json:"previous"`
	// DisabledAt is when the guard was turned off by this run (zero while
	// only intended, or when it was already off and left so).
	DisabledAt time.Time `json:"disabledAt,omitzero"`
	// Restored: the override was put back as Previous (RestoredAt when);
	// RestoredBy names the step or exit path that did it.
	Restored   bool      `json:"restored"`
	RestoredAt time.Time `json:"restoredAt,omitzero"`
	RestoredBy string    `json:"restoredBy,omitempty"`
}

// quorumGuardOff records the override as found (once per run: a resumed
// run keeps the first record), then turns the guard off.
func (r *runner) quorumGuardOff(ctx context.Context, progress func(string)) error {
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	rec := d.QuorumGuard
	if rec == nil || rec.Restored {
		var found lifecycle.QuorumGuard
		if rec != nil {
			found = rec.Previous // put back by an exit path: what was found first stays the truth
		} else if err := r.retryAPI(ctx, "reading the quorum guard", progress, func(ctx context.Context) error {
			var err error
			found, err = lifecycle.ReadQuorumGuard(ctx, r.deps.Operator)
			return err
		}); err != nil {
			return err
		}
		rec = &GuardRecord{Previous: found}
		if err := r.state.Update(ctx, func(d *StateData) { d.QuorumGuard = rec }); err != nil {
			return err
		}
		progress("recorded before turning it off: " + found.String())
	} else {
		progress("resuming: the state recorded " + rec.Previous.String())
	}
	var patched bool
	if err := r.retryAPI(ctx, "turning the quorum guard off", progress, func(ctx context.Context) error {
		var err error
		_, patched, err = lifecycle.DisableQuorumGuard(ctx, r.deps.Operator, lifecycle.QuorumGuardOptions{})
		return err
	}); err != nil {
		return err
	}
	if err := r.state.Update(ctx, func(d *StateData) {
		if d.QuorumGuard != nil && d.QuorumGuard.DisabledAt.IsZero() && !rec.Previous.Disabled() {
			d.QuorumGuard.DisabledAt = r.now()
		}
	}); err != nil {
		return err
	}
	if !patched {
		if rec.Previous.Disabled() {
			return plan.Skip("the quorum guard was already off before this run: it stays off at the end")
		}
		progress("the quorum guard was already off (turned off by an earlier attempt of this run)")
		return nil
	}
	progress("quorum guard off: " + lifecycle.QuorumGuardOverride + "=true")
	return nil
}

// quorumGuardOn puts the override back as recorded.
func (r *runner) quorumGuardOn(ctx context.Context, progress func(string)) error {
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	if d.QuorumGuard == nil {
		return plan.Skip("the state records no quorum guard change")
	}
	patched, err := r.putGuardBack(ctx, *d.QuorumGuard, "quorum-guard-on", progress)
	if err != nil {
		return err
	}
	if !patched {
		return plan.Skip("the quorum guard is already as found: " + d.QuorumGuard.Previous.String())
	}
	progress("quorum guard put back: " + d.QuorumGuard.Previous.String())
	return nil
}

// putGuardBack restores rec.Previous and records it, naming by.
func (r *runner) putGuardBack(ctx context.Context, rec GuardRecord, by string, progress func(string)) (bool, error) {
	var patched bool
	if err := r.retryAPI(ctx, "putting the quorum guard back", progress, func(ctx context.Context) error {
		var err error
		patched, err = lifecycle.RestoreQuorumGuard(ctx, r.deps.Operator, rec.Previous, lifecycle.QuorumGuardOptions{})
		return err
	}); err != nil {
		return false, err
	}
	return patched, r.state.Update(ctx, func(d *StateData) {
		if d.QuorumGuard != nil {
			d.QuorumGuard.Restored, d.QuorumGuard.RestoredAt, d.QuorumGuard.RestoredBy = true, r.now(), by
		}
	})
}

// guardExitTimeout bounds the guard's restore on a failed or cancelled
// run, which runs on after ctx was cancelled.
const guardExitTimeout = 2 * time.Minute

// restoreGuardOnExit puts the quorum guard back when a run stops with an
// error (a failed step or a cancelled ctx) after recording that it would
// turn it off, and marks quorum-guard-off unfinished so that a resumed run
// turns it off again before it waits. It runs on a context that survives
// ctx's cancellation (bounded by guardExitTimeout and APITimeout). It
// returns nil when there is nothing to put back.
func (r *runner) restoreGuardOnExit(ctx context.Context) error {
	d, err := r.state.Get(ctx)
	if err != nil {
		// The state is on the recovery host; a cancelled ctx must not
		// keep us from reading it.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), guardExitTimeout)
		defer cancel()
		if d, err = r.state.Get(ctx); err != nil {
			return fmt.Errorf("reading the state to put the quorum guard back: %w", err)
		}
	}
	if d.QuorumGuard == nil || d.QuorumGuard.Restored {
		return nil
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), min(guardExitTimeout, r.opts.APITimeout))
	defer cancel()
	say := func(msg string) { r.log.Info(msg, "step", "quorum-guard-on") }
	if r.report != nil {
		say = func(msg string) {
			r.log.Info(msg, "step", "quorum-guard-on")
			r.report(plan.Event{Plan: planName, Step: plan.Step{ID: "quorum-guard-on"}, Status: plan.Progress, Message: msg, Time: r.opts.Now()})
		}
	}
	say("the run stopped with the quorum guard off: putting it back (" + d.QuorumGuard.Previous.String() + ")")
	if _, err := r.putGuardBack(ectx, *d.QuorumGuard, "exit", say); err != nil {
		return fmt.Errorf("the quorum guard could not be put back (%s); set it by hand: %w", d.QuorumGuard.Previous, err)
	}
	// A resumed run must turn it off again before waiting for the cluster.
	return r.state.Update(ectx, func(d *StateData) { delete(d.Finished, "quorum-guard-off") })
}
