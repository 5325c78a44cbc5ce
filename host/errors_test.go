package host

import (
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrInvalidPath": ErrInvalidPath,
		"ErrIncomplete":  ErrIncomplete,
	}
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "ExitError", Err: &ExitError{Host: "master-0", Argv: []string{"false"}, Code: 1}, As: errtest.As[*ExitError]},
		{Name: "HostKeyError", Err: &HostKeyError{Addr: "10.0.0.1:22", Fingerprint: "SHA256:x", Err: cause}, As: errtest.As[*HostKeyError], Kinds: []error{cause}},
		{Name: "IncompleteError", Err: &IncompleteError{Host: "master-0", Op: "run"}, As: errtest.As[*IncompleteError], Kinds: []error{ErrIncomplete}, Not: []error{ErrInvalidPath}},
		{Name: "IncompleteError completed with another code", Err: &IncompleteError{Host: "master-0", Op: "run", Completed: true, LineCode: 1}, As: errtest.As[*IncompleteError], Kinds: []error{ErrIncomplete}},
	})
}
