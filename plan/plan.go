package plan

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Step is one idempotent action of a procedure. A step sets Run, or
// Fanout for a set of sub-steps known only when the plan runs.
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
	// ReadOnly marks a step that changes nothing on the cluster or its
	// hosts (a check, a listing): it runs in a dry run too, and its
	// failure fails the dry run. A check that records what it found in
	// a real run (restore's verify-backup writes its run state) asks
	// IsDryRun and records nothing in a dry run.
	ReadOnly bool
	// DryRun, when set on a step that is not ReadOnly, runs in a dry run
	// instead of Run and returns what the step would do (the message of
	// its WouldRun event, e.g. which CSRs it would approve). It must only
	// read. Its error fails the dry run. Without it a dry run reports the
	// step as WouldRun with no message.
	DryRun func(ctx context.Context, progress func(msg string)) (string, error)
	// Fanout, set instead of Run, returns the sub-steps of a parallel
	// step when it runs (for example one per node, listed from the API).
	// It must only read: it runs in a dry run too, whose sub-steps are
	// then reported as WouldRun. Sub-steps run concurrently, at most
	// MaxParallel at once, each reported with its own events (same
	// Index as the parent); every sub-step runs even when another fails,
	// and the parent then fails with a *FanoutError. Sub-step IDs must
	// be unique within the plan; a State records each one, so a resumed
	// run repeats only the sub-steps that did not finish.
	Fanout func(ctx context.Context) ([]Step, error)
	// MaxParallel bounds how many sub-steps of a Fanout step run at once;
	// zero or less runs them all at once.
	MaxParallel int
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
	// Finally, when set, runs once at the end of every Run of the plan
	// that passed Validate, whatever ended it: the last step done, a step
	// failed or panicked, ctx cancelled, State or Report failed. It gets
	// the error Run is about to return (nil for a run that finished) and
	// releases what the steps held or undoes what a failed run left (an
	// off-site stream deletes the objects a run wrote before its
	// manifest). It runs on Run's goroutine before Run returns, with a
	// context that carries ctx's values (plan.IsDryRun) but not its
	// cancellation, so it can clean up after a cancel; its error, or its
	// panic as a *lifeboat.PanicError, is joined to Run's.
	Finally func(ctx context.Context, err error) error
}

// Status is the state of a step in an Event.
type Status string

const (
	Started  Status = "started"
	Progress Status = "progress"
	Done     Status = "done"
	Skipped  Status = "skipped"
	Failed   Status = "failed"
	// WouldRun: a dry run did not run the step; Message says what it
	// would do when the step can tell (Step.DryRun).
	WouldRun Status = "would run"
)

// Event reports the progress of one step. It is the one event type of
// every lifeboat procedure: a program renders all of them with one
// function (examples/internal/cli does).
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
// other inputs, nor outlive the run once it finished (restore's state records
// a restore.RunIdentity and is retired when the run completes).
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
	// DryRun runs only the steps marked ReadOnly (and the DryRun and
	// Fanout listings of the others, which only read) and reports every
	// other step as WouldRun; State is read but never written.
	DryRun bool
}

// StepError is returned by Run when a step fails: Plan and Step name the
// plan and the step (or Fanout sub-step: its parent's ID) that failed, Err
// is the step's error.
type StepError struct {
	Plan string
	Step string
	Err  error
	// NothingChanged reports that the run stopped before it changed
	// anything on the cluster or its hosts, so it can be started afresh
	// once the cause is fixed rather than resumed: a dry run, or a run
	// that failed in a ReadOnly step (a check such as a restore's
	// verify-backup) before any step that is not ReadOnly started, with
	// no step recorded finished by an earlier run in State. A ReadOnly
	// step may still have written the run's own State. When true, the
	// error matches ErrNothingChanged.
	NothingChanged bool
}

// ErrNothingChanged is matched (errors.Is) by the *StepError of a run that
// failed before it changed anything (StepError.NothingChanged): whatever
// the plan, "refused, nothing was changed" is one test. Refusals before a
// plan runs (a *lifeboat.OptionsError, a plan that fails Validate) change
// nothing either but are their own kinds.
var ErrNothingChanged = errors.New("nothing was changed")

// Is reports whether target is ErrNothingChanged and the run changed
// nothing.
func (e *StepError) Is(target error) bool {
	return target == ErrNothingChanged && e.NothingChanged
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: step %s: %v", e.Plan, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }
