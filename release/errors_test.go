package release

import (
	"errors"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrConflict": ErrConflict, "ErrInvalidGeneration": ErrInvalidGeneration, "ErrInvalidVersion": ErrInvalidVersion,
		"ErrUndecided": ErrUndecided, "ErrUnsupportedRelease": ErrUnsupportedRelease,
	}
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "UndecidedError", Err: &UndecidedError{Evidence: []Evidence{{Where: "Options.Version"}}}, As: errtest.As[*UndecidedError], Kinds: []error{ErrUndecided}, Not: []error{ErrConflict}},
	})
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

// TestOptionsErrorNamesTheOption: each refusal of Options.Validate names
// the field at fault, qualified by its struct.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	errtest.OptionNames(t, []errtest.Option{
		{Name: "generation out of range", Err: Options{Generation: Generation(7)}.Validate(), Want: "release.Options.Generation"},
		{Name: "unparsable version", Err: Options{Version: "four"}.Validate(), Want: "release.Options.Version"},
		{Name: "version of another generation", Err: Options{Version: "4.14.8", Generation: GenerationEtcdOnly}.Validate(), Want: "release.Options.Version"},
		{Name: "negative API timeout", Err: Options{APITimeout: -time.Second}.Validate(), Want: "release.Options.APITimeout"},
	})
}
