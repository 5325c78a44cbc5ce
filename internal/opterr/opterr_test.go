package opterr_test

import (
	"errors"
	"fmt"
	"testing"

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
