package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/safego"
)

// ErrInvalidPlan is wrapped by the error Run returns, before running
// anything, for a plan whose steps cannot run: a nil plan, a step with
// neither Run nor Fanout, or two steps with one ID. A Fanout step whose
// sub-steps reuse an ID of the plan (or of another step's sub-steps)
// fails with it before any of its sub-steps runs.
var ErrInvalidPlan = errors.New("invalid plan")

// Describe lists the steps, one per line, without running anything. A
// Fanout step is one line: its sub-steps are known only when it runs (a
// dry run, RunOptions.DryRun, lists them).
func (p *Plan) Describe() string {
	if p == nil {
		return "<nil plan>\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d steps)\n", p.Name, len(p.Steps))
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "%3d. %-40s %s\n", i+1, s.ID, s.Description)
	}
	return b.String()
}

// Validate checks that every step can run: Run or Fanout set (not both),
// IDs unique. Run calls it before anything else.
func (p *Plan) Validate() error {
	if p == nil {
		return fmt.Errorf("%w: nil plan", ErrInvalidPlan)
	}
	seen := map[string]bool{}
	for i, s := range p.Steps {
		switch {
		case s.ID == "":
			return fmt.Errorf("%w: %s: step %d has no ID", ErrInvalidPlan, p.Name, i+1)
		case seen[s.ID]:
			return fmt.Errorf("%w: %s: two steps %q", ErrInvalidPlan, p.Name, s.ID)
		case (s.Run == nil) == (s.Fanout == nil):
			return fmt.Errorf("%w: %s: step %q must set exactly one of Run and Fanout", ErrInvalidPlan, p.Name, s.ID)
		}
		seen[s.ID] = true
	}
	return nil
}

type dryRunKey struct{}

// IsDryRun reports whether ctx is the context of a step (its Run, DryRun
// or Fanout) that Run called with RunOptions.DryRun, or one derived from
// it: a ReadOnly check that records its result in a real run skips the
// record when it is true.
func IsDryRun(ctx context.Context) bool {
	dry, _ := ctx.Value(dryRunKey{}).(bool)
	return dry
}

// runner is one Run of a plan.
type runner struct {
	p        *Plan
	opts     RunOptions
	now      func() time.Time
	mu       sync.Mutex // serialises reports and State writes of parallel sub-steps
	finished map[string]bool
	ids      map[string]bool // the IDs of the plan's steps and of the sub-steps listed so far, under mu
	// reportErr is the panic of opts.Report (or opts.Now), under mu:
	// Report is not called again and Run stops after the current step.
	reportErr error
	// changed: a step that is not ReadOnly started in a real run, or
	// State recorded a step finished by an earlier run; under mu.
	changed bool
}

func (r *runner) report(e Event) {
	if r.opts.Report == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reportErr != nil {
		return
	}
	err := safego.Call("plan.RunOptions.Report", func() error {
		e.Plan, e.Total, e.Time = r.p.Name, len(r.p.Steps), r.now()
		r.opts.Report(e)
		return nil
	})
	if err != nil {
		r.reportErr = fmt.Errorf("%s: reporting step %s %s: %w", r.p.Name, e.Step.ID, e.Status, err)
	}
}

// reportFailure returns the panic of opts.Report, if it panicked.
func (r *runner) reportFailure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reportErr
}

// Run executes the steps in order and stops at the first failure, which it
// returns as a *StepError. Steps recorded as finished in opts.State are
// reported as skipped and not run again. Run stops before the next step when
// ctx is cancelled. With opts.DryRun only ReadOnly steps run (see
// RunOptions.DryRun). A plan that fails Validate runs nothing; any other
// Run ends with the plan's Finally, when set.
//
// A step's Run, DryRun or Fanout that panics fails the step with a
// *lifeboat.PanicError (errors.Is lifeboat.ErrPanicked) inside the
// *StepError, as a returned error would: the step is not recorded as
// finished, so a resumed run runs it again. A panic of a State method is
// returned the same way. When opts.Report (or opts.Now) panics, Report
// is not called again, the step under way runs to its end (every
// sub-step of a Fanout step too) and is recorded as usual, and Run
// returns the *lifeboat.PanicError, wrapped with the event's step and
// status, instead of running the next step (joined with the step's
// *StepError when that step failed too).
func (p *Plan) Run(ctx context.Context, opts RunOptions) (err error) {
	if err := p.Validate(); err != nil {
		return err
	}
	if opts.DryRun {
		ctx = context.WithValue(ctx, dryRunKey{}, true)
	}
	if p.Finally != nil {
		fctx := context.WithoutCancel(ctx)
		defer func() {
			ferr := safego.Call("plan.Plan.Finally", func() error { return p.Finally(fctx, err) })
			if ferr != nil {
				err = errors.Join(err, fmt.Errorf("%s: finally: %w", p.Name, ferr))
			}
		}()
	}
	r := &runner{p: p, opts: opts, now: opts.Now, finished: map[string]bool{}, ids: map[string]bool{}}
	for _, s := range p.Steps {
		r.ids[s.ID] = true
	}
	if r.now == nil {
		r.now = time.Now
	}
	if opts.State != nil {
		f, err := safego.CallValue("plan.State.Finished", func() (map[string]bool, error) { return opts.State.Finished(ctx) })
		if err != nil {
			return fmt.Errorf("%s: reading plan state: %w", p.Name, err)
		}
		r.finished = f
		r.changed = len(f) > 0
	}
	for i, s := range p.Steps {
		err := r.step(ctx, s, i+1)
		perr := r.reportFailure()
		var se *StepError
		if err != nil {
			r.mu.Lock()
			se = &StepError{Plan: p.Name, Step: s.ID, Err: err, NothingChanged: opts.DryRun || s.ReadOnly && !r.changed}
			r.mu.Unlock()
		}
		switch {
		case err != nil && perr != nil:
			return errors.Join(se, perr)
		case err != nil:
			return se
		case perr != nil:
			return perr
		}
	}
	return nil
}

// step runs one step (or sub-step) with its events and records it.
func (r *runner) step(ctx context.Context, s Step, index int) error {
	ev := Event{Step: s, Index: index}
	if r.finished[s.ID] {
		ev.Status, ev.Message = Skipped, "finished in an earlier run"
		r.report(ev)
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.opts.DryRun && !s.ReadOnly && s.Fanout == nil {
		ev.Status = WouldRun
		if s.DryRun != nil {
			msg, err := safego.CallValue("plan.Step.DryRun", func() (string, error) { return s.DryRun(ctx, r.progress(ev)) })
			if err != nil {
				ev.Status, ev.Err = Failed, err
				r.report(ev)
				return err
			}
			ev.Message = msg
		}
		r.report(ev)
		return nil
	}
	if !s.ReadOnly && !r.opts.DryRun {
		r.mu.Lock()
		r.changed = true
		r.mu.Unlock()
	}
	ev.Status = Started
	r.report(ev)
	var err error
	if s.Fanout != nil {
		err = r.fanout(ctx, s, index)
	} else {
		progress := r.progress(ev)
		sctx := context.WithValue(ctx, bytesKey{}, newReporter(func(msg string, done, total int64) {
			pe := ev
			pe.Status, pe.Message, pe.BytesDone, pe.BytesTotal = Progress, msg, done, total
			r.report(pe)
		}))
		err = safego.Call("plan.Step.Run", func() error { return s.Run(sctx, progress) })
	}
	switch {
	case err == nil:
		ev.Status = Done
	case errors.Is(err, ErrSkipped) && !errors.Is(err, lifeboat.ErrPanicked):
		ev.Status, ev.Message = Skipped, strings.TrimPrefix(err.Error(), ErrSkipped.Error()+": ")
	default:
		ev.Status, ev.Err = Failed, err
		r.report(ev)
		return err
	}
	if r.opts.State != nil && !r.opts.DryRun {
		r.mu.Lock()
		err := safego.Call("plan.State.MarkFinished", func() error { return r.opts.State.MarkFinished(ctx, s.ID) })
		r.mu.Unlock()
		if err != nil {
			return fmt.Errorf("recording step %s as finished: %w", s.ID, err)
		}
	}
	r.report(ev)
	return nil
}

func (r *runner) progress(ev Event) func(string) {
	return func(msg string) {
		pe := ev
		pe.Status, pe.Message = Progress, msg
		r.report(pe)
	}
}
