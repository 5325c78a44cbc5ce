package opterr_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

func TestUnder(t *testing.T) {
	cause := errors.New("cause")
	for _, tc := range []struct {
		name string
		err  error
		want []string // the Option of each OptionsError, in order
	}{
		{"field", opterr.New("release.Options.Version", "%w", cause), []string{"restore.Options.Release.Version"}},
		{"the struct itself", opterr.Nil("release.Options"), []string{"restore.Options.Release"}},
		{"another struct", opterr.New("release.OptionsX.Version", "bad"), []string{"release.OptionsX.Version"}},
		{"combination", opterr.New("", "A and B"), []string{""}},
		{"joined", errors.Join(opterr.Nil("release.Options.Version"), opterr.Nil("backup.TakeOptions.Dir")),
			[]string{"restore.Options.Release.Version", "backup.TakeOptions.Dir"}},
		{"not an options error", fmt.Errorf("x: %w", cause), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := opterr.Under("restore.Options.Release", "release.Options", tc.err)
			var errs []error
			if j, ok := got.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			} else {
				errs = []error{got}
			}
			var names []string
			for _, e := range errs {
				var oe *lifeboat.OptionsError
				if errors.As(e, &oe) {
					names = append(names, oe.Option)
				}
			}
			if fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Errorf("Under(%v) options = %q, want %q", tc.err, names, tc.want)
			}
			if errors.Is(tc.err, cause) && !errors.Is(got, cause) {
				t.Errorf("Under(%v) lost the cause", tc.err)
			}
		})
	}
	orig := opterr.New("release.Options.Version", "bad")
	_ = opterr.Under("restore.Options.Release", "release.Options", orig)
	if oe := orig.(*lifeboat.OptionsError); oe.Option != "release.Options.Version" {
		t.Errorf("Under modified its argument: %q", oe.Option)
	}
}

// TestNegative: zero and positive values pass; a negative one is the
// invalid-options kind naming the option, with the value as its type
// prints it (a duration as "-1s", a count as "-3").
func TestNegative(t *testing.T) {
	if err := opterr.Negative("pkg.Options.Interval", time.Duration(0)); err != nil {
		t.Errorf("Negative(0) = %v, want nil", err)
	}
	if err := opterr.Negative("pkg.Options.Count", 7); err != nil {
		t.Errorf("Negative(7) = %v, want nil", err)
	}
	for _, tc := range []struct {
		err    error
		option string
		reason string
	}{
		{opterr.Negative("pkg.Options.Interval", -time.Second), "pkg.Options.Interval", "-1s is negative"},
		{opterr.Negative("pkg.Options.Count", -3), "pkg.Options.Count", "-3 is negative"},
		{opterr.Negative("pkg.Options.Size", int64(-1)), "pkg.Options.Size", "-1 is negative"},
	} {
		var oe *lifeboat.OptionsError
		if !errors.Is(tc.err, lifeboat.ErrInvalidOptions) || !errors.As(tc.err, &oe) {
			t.Fatalf("%v: not a *lifeboat.OptionsError", tc.err)
		}
		if oe.Option != tc.option || oe.Reason != tc.reason {
			t.Errorf("Option, Reason = %q, %q; want %q, %q", oe.Option, oe.Reason, tc.option, tc.reason)
		}
	}
}
