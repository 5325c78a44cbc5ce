package lifeboat_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
	"github.com/lifeboat-dev/lifeboat/release"
)

// TestOptionsError pins ErrInvalidOptions and *OptionsError: the typed
// error matches the kind and its cause, never unwraps to the kind, and
// names the option.
func TestOptionsError(t *testing.T) {
	e := &lifeboat.OptionsError{Option: "backup.TakeOptions.Dir", Reason: "is required", Err: fs.ErrNotExist}
	w := fmt.Errorf("backup: take plan: %w", e)
	var oe *lifeboat.OptionsError
	if !errors.Is(w, lifeboat.ErrInvalidOptions) || !errors.Is(w, fs.ErrNotExist) || !errors.As(w, &oe) {
		t.Fatalf("%v does not match its kind, its cause and its type", w)
	}
	if errors.Unwrap(e) == lifeboat.ErrInvalidOptions {
		t.Error("OptionsError unwraps to its sentinel")
	}
	if got, want := e.Error(), "invalid options: backup.TakeOptions.Dir: is required: file does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestInvalidOptionsAcrossPackages: one errors.Is target serves every
// package's options.
func TestInvalidOptionsAcrossPackages(t *testing.T) {
	_, rerr := retention.Apply(t.Context(), nil, retention.Policy{}, retention.ApplyOptions{})
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"release.Options.Validate", release.Options{Version: "four"}.Validate()},
		{"retention.Apply without a store", rerr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var oe *lifeboat.OptionsError
			if !errors.Is(tc.err, lifeboat.ErrInvalidOptions) || !errors.As(tc.err, &oe) {
				t.Fatalf("%v: want a *lifeboat.OptionsError", tc.err)
			}
		})
	}
}
