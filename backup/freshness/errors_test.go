package freshness

import (
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
)

// TestInvalidInputIsOneKind: the package declares no sentinel of its own;
// every refused option or attempt is a *lifeboat.OptionsError matching
// lifeboat.ErrInvalidOptions, and a nil Recorder is refused, not a panic.
func TestInvalidInputIsOneKind(t *testing.T) {
	var nilRec *Recorder
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"bad const label", func() error { _, err := NewRecorder(Options{ConstLabels: map[string]string{"0bad": "x"}}); return err }},
		{"nil recorder", func() error { return nilRec.Record(Attempt{}) }},
		{"push URL", func() error { return PushOptions{URL: "ftp://x"}.Validate() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			var oe *lifeboat.OptionsError
			if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
				t.Fatalf("got %v, want a *lifeboat.OptionsError", err)
			}
		})
	}
}
