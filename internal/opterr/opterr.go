// Package opterr builds the *lifeboat.OptionsError every Validate method
// and plan builder returns for options or dependencies it refuses.
package opterr

import (
	"errors"
	"fmt"

	"github.com/lifeboat-dev/lifeboat"
)

// New returns a *lifeboat.OptionsError for option (qualified by its
// struct, e.g. "backup.TakeOptions.Dir"; "" for none) with the reason
// formatted as by fmt.Errorf: every %w operand becomes the error's cause.
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
