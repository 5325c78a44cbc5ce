package host

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrInvalidPath": ErrInvalidPath,
		"ErrIncomplete":  ErrIncomplete,
	}
	for name, s := range sentinels {
		if s == nil || s.Error() == "" {
			t.Errorf("%s is nil or has no text", name)
			continue
		}
		if w := fmt.Errorf("op target: %w", s); !errors.Is(w, s) {
			t.Errorf("%s does not survive wrapping", name)
		}
		for other, o := range sentinels {
			if other != name && errors.Is(s, o) {
				t.Errorf("errors.Is(%s, %s): two sentinels for one failure", name, other)
			}
		}
	}
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	_ = cause
	for _, tc := range []struct {
		name  string
		err   error
		as    func(error) bool
		kinds []error
		not   []error
	}{
		{"ExitError", &ExitError{Host: "master-0", Argv: []string{"false"}, Code: 1}, func(err error) bool { var e *ExitError; return errors.As(err, &e) }, nil, nil},
		{"HostKeyError", &HostKeyError{Addr: "10.0.0.1:22", Fingerprint: "SHA256:x", Err: cause}, func(err error) bool { var e *HostKeyError; return errors.As(err, &e) }, []error{cause}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := fmt.Errorf("op target: %w", tc.err)
			if !tc.as(w) {
				t.Errorf("errors.As(%v) finds no %s", w, tc.name)
			}
			for _, k := range tc.kinds {
				if !errors.Is(w, k) {
					t.Errorf("errors.Is(%v, %v) = false", w, k)
				}
			}
			for _, k := range tc.not {
				if errors.Is(w, k) {
					t.Errorf("errors.Is(%v, %v) = true", w, k)
				}
			}
			if tc.err.Error() == "" {
				t.Error("empty message")
			}
		})
	}
}
