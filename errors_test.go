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

// TestPanicError pins ErrPanicked and *PanicError: the typed error
// matches its kind and, when the panic's value is an error, that error;
// it never unwraps to its kind; Error() names the op and the value but
// not the stack.
func TestPanicError(t *testing.T) {
	e := &lifeboat.PanicError{Op: "step s run", Value: fs.ErrClosed, Stack: "main.f\n\tf.go:1\n"}
	w := fmt.Errorf("plan p: step s: %w", e)
	var pe *lifeboat.PanicError
	if !errors.Is(w, lifeboat.ErrPanicked) || !errors.Is(w, fs.ErrClosed) || !errors.As(w, &pe) {
		t.Fatalf("%v does not match its kind, its cause and its type", w)
	}
	if errors.Is(w, lifeboat.ErrInvalidOptions) || errors.Is(&lifeboat.OptionsError{}, lifeboat.ErrPanicked) {
		t.Error("ErrPanicked and ErrInvalidOptions match each other")
	}
	if errors.Unwrap(e) == lifeboat.ErrPanicked || errors.Unwrap(&lifeboat.PanicError{Value: "boom"}) != nil {
		t.Error("PanicError unwraps to something other than its value")
	}
	if got, want := e.Error(), "step s run panicked: file already closed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&lifeboat.PanicError{Value: 42}).Error(), "panicked: 42"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
