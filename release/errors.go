package release

import (
	"errors"
	"strings"
)

var (
	// ErrInvalidVersion: a version string is not an OpenShift version.
	ErrInvalidVersion = errors.New("release: invalid version")

	// ErrInvalidGeneration: a generation name or value is not one of
	// the generations.
	ErrInvalidGeneration = errors.New("release: invalid generation")

	// ErrUnsupportedRelease: the release is outside what lifeboat knows
	// (before 4.5, or another major than 4 and 5). Detect returns it when
	// the cluster's completed version is such a release: no procedure of
	// lifeboat may run there, whatever the host looks like.
	ErrUnsupportedRelease = errors.New("release: unsupported release")

	// ErrUndecided: no evidence decided the generation (no override, the
	// ClusterVersion unreadable or without a usable completed version, the
	// host unreadable or without the etcd static pod and scripts). Detect
	// returns an *UndecidedError, which matches it.
	ErrUndecided = errors.New("release: no evidence decides the procedure generation")

	// ErrConflict: the ClusterVersion and the recovery host indicate
	// different generations and Options.RefuseConflict is set.
	ErrConflict = errors.New("release: the cluster version and the recovery host indicate different generations")
)

// UndecidedError is what Detect returns when nothing decides: it carries
// every piece of evidence gathered, with its read errors, so the caller can
// say why. It matches ErrUndecided with errors.Is, and the read errors of its
// evidence too (errors.Is(err, context.DeadlineExceeded) is true when the
// ClusterVersion read timed out).
type UndecidedError struct {
	Evidence []Evidence
}

func (e *UndecidedError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUndecided.Error())
	for _, ev := range e.Evidence {
		b.WriteString("; ")
		b.WriteString(ev.String())
	}
	return b.String()
}

// Is matches ErrUndecided, the kind of this error (see package lifeboat,
// Errors).
func (e *UndecidedError) Is(target error) bool { return target == ErrUndecided }

// Unwrap returns the read errors of the evidence, its causes.
func (e *UndecidedError) Unwrap() []error {
	var errs []error
	for _, ev := range e.Evidence {
		if ev.Err != nil {
			errs = append(errs, ev.Err)
		}
	}
	return errs
}
