package plan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Step is one idempotent action of a procedure.
type Step struct {
	// ID is stable across runs ("stop-static-pods/master-1"); it is what a
	// State records, so a resumed run knows the step finished.
	ID string
	// Description says what the step does, in the runbook's words.
	Description string
	// Run performs the step. It must be idempotent: running it again after
	// it succeeded, or after it failed half way, is safe. Returning an error
	// wrapping ErrSkipped reports the step as skipped (nothing to do).
	// progress reports what the step is waiting for; it may be ignored.
	Run func(ctx context.Context, progress func(msg string)) error
}

// ErrSkipped, wrapped by a step's error, reports that the step had nothing
// to do: it is recorded as finished and the plan continues.
var ErrSkipped = errors.New("skipped")

// Skip returns an error wrapping ErrSkipped with the reason.
func Skip(reason string) error { return fmt.Errorf("%w: %s", ErrSkipped, reason) }

// Plan is an ordered list of steps that can be listed without acting (a dry
// run) and executed with progress.
type Plan struct {
	Name  string
	Steps []Step
}

// Status is the state of a step in an Event.
type Status string

const (
	Started  Status = "started"
	Progress Status = "progress"
	Done     Status = "done"
	Skipped  Status = "skipped"
	Failed   Status = "failed"
)

// Event reports the progress of one step.
type Event struct {
	Plan    string
	Step    Step
	Index   int // 1-based
	Total   int
	Status  Status
	Message string // the progress message, or the skip reason
	Err     error  // set when Status is Failed
	Time    time.Time
	// BytesDone of BytesTotal bytes the step has moved, on Progress
	// events a step reported with ReportBytes (BytesTotal 0: unknown);
	// both 0 on other events.
	BytesDone, BytesTotal int64
}

func (e Event) String() string {
	s := fmt.Sprintf("[%d/%d] %s %s", e.Index, e.Total, e.Step.ID, e.Status)
	switch {
	case e.Err != nil:
		s += ": " + e.Err.Error()
	case e.Message != "":
		s += ": " + e.Message
	case e.Status == Started:
		s += ": " + e.Step.Description
	}
	if e.BytesDone > 0 || e.BytesTotal > 0 {
		s += " (" + byteCount(e.BytesDone)
		if e.BytesTotal > 0 {
			s += " of " + byteCount(e.BytesTotal)
		}
		s += ")"
	}
	return s
}

// byteCount is n in B, KiB, MiB or GiB, one decimal.
func byteCount(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 2; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMG"[exp])
}

// State remembers which steps of a plan finished, so that a second run after
// a crash or a cancel resumes where the first stopped. A State belongs to
// one run of one procedure: an implementation that persists it must record
// what identifies the run (its inputs) and must not answer for a run with
// other inputs, nor outlive the run once it finished (restore.State records
// a RunIdentity and is retired when the run completes).
type State interface {
	// Finished returns the IDs of the steps recorded as finished.
	Finished(ctx context.Context) (map[string]bool, error)
	// MarkFinished records that the step finished.
	MarkFinished(ctx context.Context, id string) error
}

// RunOptions configures Run. The zero value runs every step, reports
// nothing and keeps no state.
type RunOptions struct {
	// Report receives an Event for each step start, progress message, end.
	Report func(Event)
	// State, when set, is consulted to skip finished steps and updated after
	// each step.
	State State
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// StepError is returned by Run when a step fails.
type StepError struct {
	Plan string
	Step string
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: step %s: %v", e.Plan, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// Describe lists the steps, one per line, without running anything.
func (p *Plan) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d steps)\n", p.Name, len(p.Steps))
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "%3d. %-40s %s\n", i+1, s.ID, s.Description)
	}
	return b.String()
}

// Run executes the steps in order and stops at the first failure, which it
// returns as a *StepError. Steps recorded as finished in opts.State are
// reported as skipped and not run again. Run stops before the next step when
// ctx is cancelled.
func (p *Plan) Run(ctx context.Context, opts RunOptions) error {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	report := func(e Event) {
		if opts.Report != nil {
			e.Plan, e.Total, e.Time = p.Name, len(p.Steps), now()
			opts.Report(e)
		}
	}
	finished := map[string]bool{}
	if opts.State != nil {
		f, err := opts.State.Finished(ctx)
		if err != nil {
			return fmt.Errorf("%s: reading plan state: %w", p.Name, err)
		}
		finished = f
	}
	for i, s := range p.Steps {
		ev := Event{Step: s, Index: i + 1}
		if finished[s.ID] {
			ev.Status, ev.Message = Skipped, "finished in an earlier run"
			report(ev)
			continue
		}
		if err := ctx.Err(); err != nil {
			return &StepError{Plan: p.Name, Step: s.ID, Err: err}
		}
		ev.Status = Started
		report(ev)
		sctx := context.WithValue(ctx, bytesKey{}, bytesReporter(func(msg string, done, total int64) {
			pe := ev
			pe.Status, pe.Message, pe.BytesDone, pe.BytesTotal = Progress, msg, done, total
			report(pe)
		}))
		err := s.Run(sctx, func(msg string) {
			pe := ev
			pe.Status, pe.Message = Progress, msg
			report(pe)
		})
		switch {
		case err == nil:
			ev.Status = Done
		case errors.Is(err, ErrSkipped):
			ev.Status, ev.Message = Skipped, strings.TrimPrefix(err.Error(), ErrSkipped.Error()+": ")
		default:
			ev.Status, ev.Err = Failed, err
			report(ev)
			return &StepError{Plan: p.Name, Step: s.ID, Err: err}
		}
		if opts.State != nil {
			if err := opts.State.MarkFinished(ctx, s.ID); err != nil {
				return &StepError{Plan: p.Name, Step: s.ID, Err: fmt.Errorf("recording step as finished: %w", err)}
			}
		}
		report(ev)
	}
	return nil
}
