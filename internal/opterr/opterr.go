// Package opterr builds the *lifeboat.OptionsError every Validate method
// and plan builder returns for options or dependencies it refuses.
package opterr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
)

// New returns a *lifeboat.OptionsError for option (in one of the forms
// lifeboat.OptionsError.Option documents, e.g. "backup.TakeOptions.Dir";
// "" only for a combination of fields, each named in the reason) with the
// reason formatted as by fmt.Errorf: every %w operand becomes the error's
// cause. The reason does not repeat the option's name. The module's
// names_test.go checks every literal name.
func New(option, format string, args ...any) error {
	reason := fmt.Errorf(format, args...)
	var cause error
	switch u := reason.(type) {
	case interface{ Unwrap() error }:
		cause = u.Unwrap()
	case interface{ Unwrap() []error }:
		cause = errors.Join(u.Unwrap()...)
	}
	return &lifeboat.OptionsError{Option: option, Reason: reason.Error(), Err: cause}
}

// Nil returns the error for a required dependency or option that is nil
// or empty, e.g. Nil("member.Deps.Etcd").
func Nil(option string) error {
	return &lifeboat.OptionsError{Option: option, Reason: "is required"}
}

// Negative returns the error for option when v is negative ("-1s is
// negative"), and nil when it is zero or more: the check of every count,
// size and duration whose zero value takes a default. Validate methods
// chain them with cmp.Or, which returns the first refusal:
//
//	return cmp.Or(opterr.Negative("lifecycle.RestartOptions.Interval", o.Interval), ...)
func Negative[T interface{ ~int | ~int64 }](option string, v T) error {
	if v >= 0 {
		return nil
	}
	return &lifeboat.OptionsError{Option: option, Reason: fmt.Sprintf("%v is negative", v)}
}

// Under re-qualifies the option names in err for options the caller gave
// inside another struct: a name that is inner or starts with inner+"."
// gets outer in its place, e.g. Under("restore.Options.Release",
// "release.Options", err) turns "release.Options.Version" into
// "restore.Options.Release.Version". It rewrites an *lifeboat.OptionsError
// and each error of an errors.Join; any other error is returned as it is.
// err itself is not modified.
func Under(outer, inner string, err error) error {
	switch e := err.(type) {
	case *lifeboat.OptionsError:
		if e.Option == inner || strings.HasPrefix(e.Option, inner+".") {
			c := *e
			c.Option = outer + strings.TrimPrefix(e.Option, inner)
			return &c
		}
		return e
	case interface{ Unwrap() []error }:
		errs := e.Unwrap()
		out := make([]error, len(errs))
		for i, x := range errs {
			out[i] = Under(outer, inner, x)
		}
		return errors.Join(out...)
	}
	return err
}
