package realnode

import (
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrNotRestored": ErrNotRestored, "ErrUnavailable": ErrUnavailable,
	}
	errtest.Sentinels(t, sentinels)
}

// TestValidateRefusesBadOptions: Options.Validate returns the one
// invalid-options kind before anything touches the machine.
func TestValidateRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"bad name", Options{Name: "Not_A_Name"}},
		{"loopback node IP", Options{NodeIP: "127.0.0.2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var oe *lifeboat.OptionsError
			if err := tc.opts.Validate(); !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
				t.Fatalf("Validate = %v, want a *lifeboat.OptionsError", err)
			}
		})
	}
}
