package lifeboat

import (
	"errors"
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
