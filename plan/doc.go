// Package plan runs lifeboat's procedures as plans: ordered lists of
// idempotent steps that can be listed without acting (a dry run, see
// [Plan.Describe]) and executed with progress (see [Plan.Run]), each step
// reported as started, done, skipped or failed through an optional callback
// so that a CI job can show where a recovery stands. A step that moves
// data reports its bytes with [ReportBytes]; they arrive as
// [Event.BytesDone] and [Event.BytesTotal] on Progress events.
//
// With [RunOptions.DryRun] only the steps marked [Step.ReadOnly] run;
// the others are reported as [WouldRun], with what they would do when
// they can tell ([Step.DryRun]). A [Step.Fanout] step runs sub-steps in
// parallel, at most [Step.MaxParallel] at once, each with its own events
// (a shutdown of N nodes).
//
// A [State] makes a plan resumable: the restore procedure records each
// finished step on the recovery host, and a second run after a crash or a
// cancel starts at the first unfinished step.
//
// Errors: a failing step is returned as a *[StepError] naming the plan and
// the step and wrapping the step's own error; a step returning an error
// wrapping [ErrSkipped] is reported as skipped, not failed. A step whose
// Run, DryRun or Fanout panics, on Run's goroutine or on a fan-out's, fails
// with a *[lifeboat.PanicError] (errors.Is [lifeboat.ErrPanicked]; its
// Op names the field, "plan.Step.Run", its Stack where the panic came
// from) inside the *StepError, is not recorded as finished and runs again
// on resume; a panic of a [State] method fails Run the same way. A
// [RunOptions.Report] that panics is not called again, and Run returns its
// panic after the step under way instead of starting the next one. No
// panic of a step or callback ends the embedder's process; a goroutine a
// step starts itself is the step's to recover. A *StepError of a run that
// stopped before it changed anything (a dry run, or a failed ReadOnly
// check before any other kind of step started, nothing finished by an
// earlier run) has NothingChanged set and matches [ErrNothingChanged].
//
// [Plan.Finally] runs at the end of every Run, whatever ended it (a
// failed or panicked step, a cancel, a Report that panicked), with the
// run's error: the one place a builder releases what its steps held or
// undoes what a failed run left.
package plan
