package realnode

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

// TestOptionsErrorNamesTheOption: each refusal names the option or
// argument at fault, qualified by its struct or function.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	_, noCluster := New(t.Context(), nil, Options{})
	errtest.OptionNames(t, []errtest.Option{
		{Name: "bad name", Err: Options{Name: "Not_A_Name"}.Validate(), Want: "realnode.Options.Name"},
		{Name: "loopback node IP", Err: Options{NodeIP: "127.0.0.2"}.Validate(), Want: "realnode.Options.NodeIP"},
		{Name: "relative debug image", Err: Options{DebugImagePath: []string{"images/x.tar"}}.Validate(), Want: "realnode.Options.DebugImagePath"},
		{Name: "negative start timeout", Err: Options{StartTimeout: -time.Second}.Validate(), Want: "realnode.Options.StartTimeout"},
		{Name: "negative lock timeout", Err: Options{LockTimeout: -time.Second}.Validate(), Want: "realnode.Options.LockTimeout"},
		{Name: "no cluster", Err: noCluster, Want: "realnode.New c"},
	})
}
