package release

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrConflict": ErrConflict, "ErrInvalidGeneration": ErrInvalidGeneration, "ErrInvalidVersion": ErrInvalidVersion,
		"ErrUndecided": ErrUndecided, "ErrUnsupportedRelease": ErrUnsupportedRelease,
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
		{"UndecidedError", &UndecidedError{Evidence: []Evidence{{Where: "Options.Version"}}}, func(err error) bool { var e *UndecidedError; return errors.As(err, &e) }, []error{ErrUndecided}, []error{ErrConflict}},
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

// TestValidateErrors produces the version and generation kinds through
// Options.Validate, inside the one invalid-options kind.
func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want []error
	}{
		{"unparsable version", Options{Version: "four"}, []error{lifeboat.ErrInvalidOptions, ErrInvalidVersion}},
		{"unsupported version", Options{Version: "4.2.0"}, []error{lifeboat.ErrInvalidOptions, ErrUnsupportedRelease}},
		{"out-of-range generation", Options{Generation: Generation(7)}, []error{lifeboat.ErrInvalidOptions, ErrInvalidGeneration}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Validate = %v, want %v", err, w)
				}
			}
			var oe *lifeboat.OptionsError
			if !errors.As(err, &oe) {
				t.Errorf("Validate = %v, want a *lifeboat.OptionsError", err)
			}
		})
	}
}
