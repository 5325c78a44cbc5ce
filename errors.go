package lifeboat

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidOptions is the one kind every package uses for "the caller's
// options or dependencies cannot be used": a Validate method, an XPlan
// builder or a single call refused them before any side effect (no I/O,
// no cluster or host call). Every such error is an *OptionsError, and
// errors.Is(err, lifeboat.ErrInvalidOptions) holds for it in every
// package, so one check serves an embedder whatever procedure it runs.
var ErrInvalidOptions = errors.New("invalid options")

// OptionsError names the option or dependency a call refused and why. It
// matches ErrInvalidOptions with errors.Is; Unwrap returns its cause (a
// parse error underneath, or a more precise sentinel such as
// release.ErrInvalidVersion), never ErrInvalidOptions itself.
type OptionsError struct {
	// Option is the option or dependency at fault, qualified by the
	// exported struct the caller fills in: "pkg.Struct.Field", e.g.
	// "backup.TakeOptions.Dir" or "member.Deps.Etcd" (deeper for a field
	// of a field, "offsite.UploadOptions.Destination.URL"); "pkg.Struct"
	// for a nil options struct or receiver ("offsite.UploadOptions");
	// "pkg.Func arg" for an argument of a function ("retention.Apply
	// store"); an environment variable's name ("ETCDCTL_DIAL_TIMEOUT").
	// It is "" only when the refusal concerns a combination of fields,
	// every one of them named in Reason.
	Option string
	// Reason says what is wrong, e.g. "is required" or "-1s is negative".
	Reason string
	// Err is the cause, or nil.
	Err error
}

func (e *OptionsError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidOptions.Error())
	if e.Option != "" {
		b.WriteString(": ")
		b.WriteString(e.Option)
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Err != nil && !strings.Contains(e.Reason, e.Err.Error()) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is matches ErrInvalidOptions, the kind of this error.
func (e *OptionsError) Is(target error) bool { return target == ErrInvalidOptions }

// Unwrap returns the cause (nil when there is none).
func (e *OptionsError) Unwrap() error { return e.Err }

// ErrPanicked is the one kind every package uses for "code lifeboat
// called panicked": a plan step (its Run, DryRun or Fanout listing), a
// RunOptions.Report or plan.State method, or a dependency a call runs on
// a goroutine of its own (an etcd client, a host, a kube client, a
// logger's handler). lifeboat recovers the panic where it runs that code,
// on the caller's goroutine or on one it started, and returns it as the
// call's error, a *PanicError, instead of letting it end the process.
var ErrPanicked = errors.New("panicked")

// PanicError is a panic lifeboat recovered. It matches ErrPanicked with
// errors.Is; Unwrap returns the panic's value when it is an error (a
// runtime.Error for a nil dereference), nil otherwise, never ErrPanicked
// itself. Error() names Op and the value; the stack is in Stack only.
type PanicError struct {
	// Op is the code that panicked, e.g. "plan.Step.Run" or
	// "backup.SnapshotClient.Status of https://10.0.0.3:2379".
	Op string
	// Value is the value passed to panic.
	Value any
	// Stack is the panicking goroutine's stack from the frame that called
	// panic outward, at most 16 frames, one "function\n\tfile:line" per
	// frame; "" when it could not be read.
	Stack string
}

func (e *PanicError) Error() string {
	if e.Op == "" {
		return fmt.Sprintf("%s: %v", ErrPanicked.Error(), e.Value)
	}
	return fmt.Sprintf("%s %s: %v", e.Op, ErrPanicked.Error(), e.Value)
}

// Is matches ErrPanicked, the kind of this error.
func (e *PanicError) Is(target error) bool { return target == ErrPanicked }

// Unwrap returns the panic's value when it is an error, nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
