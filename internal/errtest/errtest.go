// Package errtest holds the checks every package's errors_test.go applies
// to its documented errors.Is and errors.As targets (the convention in the
// root package's doc, "Errors"), so each package lists its targets and
// the checks are written once.
package errtest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
)

// Sentinels checks a package's exported sentinels, keyed by name: each has
// text, survives %w wrapping with an operation and target, and is its own
// failure kind: no two match each other with errors.Is or have the same
// text, and none matches or is worded like any of others (other packages'
// sentinels of related failures, keyed by qualified name).
func Sentinels(t *testing.T, sentinels map[string]error, others ...map[string]error) {
	t.Helper()
	if len(sentinels) == 0 {
		t.Fatal("no sentinels listed: a package without sentinels has no such test")
	}
	for name, s := range sentinels {
		if s == nil || s.Error() == "" {
			t.Errorf("%s is nil or has no text", name)
			continue
		}
		if w := fmt.Errorf("op target: %w", s); !errors.Is(w, s) {
			t.Errorf("%s does not survive wrapping", name)
		}
		for _, set := range append([]map[string]error{sentinels}, others...) {
			for other, o := range set {
				if other != name && o != nil && (errors.Is(s, o) || errors.Is(o, s) || s.Error() == o.Error()) {
					t.Errorf("%s and %s: two sentinels for one failure", name, other)
				}
			}
		}
	}
}

// Typed is one exported typed error: a value of it (Err), the errors.As
// check that must find it (As, usually As[*T]), the sentinels and causes
// it must match with errors.Is (Kinds) and those it must not (Not).
type Typed struct {
	Name  string
	Err   error
	As    func(error) bool
	Kinds []error
	Not   []error
}

// As reports whether errors.As finds a T in err.
func As[T error](err error) bool {
	var e T
	return errors.As(err, &e)
}

// TypedErrors checks each case through a %w wrap: errors.As finds it, it
// matches each of Kinds and none of Not, and its message is not empty. Each
// case is a subtest named by its Name.
func TypedErrors(t *testing.T, cases []Typed) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("no typed errors listed: a package without typed errors has no such test")
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			w := fmt.Errorf("op target: %w", tc.Err)
			if tc.As == nil || !tc.As(w) {
				t.Errorf("errors.As(%v) finds no %s", w, tc.Name)
			}
			for _, k := range tc.Kinds {
				if !errors.Is(w, k) {
					t.Errorf("errors.Is(%v, %v) = false", w, k)
				}
			}
			for _, k := range tc.Not {
				if errors.Is(w, k) {
					t.Errorf("errors.Is(%v, %v) = true", w, k)
				}
			}
			if tc.Err.Error() == "" {
				t.Error("empty message")
			}
		})
	}
}

// Option is one refusal of a caller's options: the error a Validate
// method, XPlan builder or single call returned (Err) and the option its
// *lifeboat.OptionsError must name (Want, in the form the root package's
// OptionsError documents, e.g. "backup.TakeOptions.Dir"; "" for a
// combination of fields, each of which Fields lists and the reason names).
type Option struct {
	Name   string
	Err    error
	Want   string
	Fields []string
}

// OptionNames checks each case through a %w wrap: errors.As finds a
// *lifeboat.OptionsError, it matches lifeboat.ErrInvalidOptions, its Option
// is Want, and its message names that option. Each case is a subtest
// named by its Name.
func OptionNames(t *testing.T, cases []Option) {
	t.Helper()
	if len(cases) == 0 {
		t.Fatal("no refusals listed")
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			w := fmt.Errorf("op target: %w", tc.Err)
			var oe *lifeboat.OptionsError
			if !errors.As(w, &oe) {
				t.Fatalf("errors.As(%v) finds no *lifeboat.OptionsError", w)
			}
			if !errors.Is(w, lifeboat.ErrInvalidOptions) {
				t.Errorf("errors.Is(%v, lifeboat.ErrInvalidOptions) = false", w)
			}
			if oe.Option != tc.Want {
				t.Errorf("Option = %q, want %q (error %v)", oe.Option, tc.Want, oe)
			}
			if !strings.Contains(oe.Error(), tc.Want) {
				t.Errorf("message %q does not name %q", oe.Error(), tc.Want)
			}
			if tc.Want == "" && len(tc.Fields) < 2 {
				t.Errorf("a refusal of a combination lists its fields (got %q)", tc.Fields)
			}
			for _, f := range tc.Fields {
				if !strings.Contains(oe.Reason, f) {
					t.Errorf("reason %q does not name %q", oe.Reason, f)
				}
			}
		})
	}
}
