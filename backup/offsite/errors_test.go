package offsite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind, distinct (by errors.Is and by text)
// from the others and from the backup family's sentinels offsite returns
// for the failures it shares with a local backup, and survives %w
// wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	own := map[string]error{
		"ErrExists": ErrExists, "ErrMismatch": ErrMismatch, "ErrSourceChanged": ErrSourceChanged, "ErrWrongIdentity": ErrWrongIdentity,
	}
	family := map[string]error{
		"backup.ErrHashMismatch": backup.ErrHashMismatch, "backup.ErrTruncated": backup.ErrTruncated, "backup.ErrBadManifest": backup.ErrBadManifest,
		"backup.ErrMissingFile": backup.ErrMissingFile, "backup.ErrNoHash": backup.ErrNoHash, "backup.ErrInvalidBackup": backup.ErrInvalidBackup,
		"retention.ErrNotFound": retention.ErrNotFound, "retention.ErrNotBackup": retention.ErrNotBackup, "lifeboat.ErrInvalidOptions": lifeboat.ErrInvalidOptions,
	}
	errtest.Sentinels(t, own, family)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind and its cause.
func TestTypedErrors(t *testing.T) {
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "ObjectError truncated", Err: &ObjectError{Op: "verify", Key: "k", Err: fmt.Errorf("%w: short", backup.ErrTruncated)},
			As: errtest.As[*ObjectError], Kinds: []error{backup.ErrTruncated}, Not: []error{backup.ErrHashMismatch, ErrMismatch}},
		{Name: "ObjectError stored mismatch", Err: &ObjectError{Op: "verify", Key: "k", Err: storedMismatch("storage holds %d bytes", 3)},
			As: errtest.As[*ObjectError], Kinds: []error{backup.ErrHashMismatch}, Not: []error{backup.ErrTruncated}},
		{Name: "ObjectError storage", Err: &ObjectError{Op: "open", Key: "k", Err: fs.ErrPermission},
			As: errtest.As[*ObjectError], Kinds: []error{fs.ErrPermission}, Not: []error{backup.ErrMissingFile}},
	})
}

// TestTransient: what storage holds right after an upload may be cured
// by another attempt; a damaged source or a refusal may not.
func TestTransient(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"stored size differs", &ObjectError{Op: "verify", Key: "k", Err: storedMismatch("storage holds 1 bytes, 2 were written")}, true},
		{"snapshot trailer mismatch", &ObjectError{Op: "verify", Key: "k", Err: fmt.Errorf("trailer: %w", backup.ErrHashMismatch)}, false},
		{"source changed", &ObjectError{Op: "verify", Key: "k", Err: ErrSourceChanged}, false},
		{"exists", ErrExists, false},
		{"broken connection", errors.New("connection reset by peer"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(ctx, tc.err); got != tc.want {
				t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestValidateRefusesBadOptions produces the one invalid-options kind
// through the options' Validate methods, before any I/O.
func TestValidateRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		validate func() error
	}{
		{"nil UploadOptions", func() error { var o *UploadOptions; return o.Validate() }},
		{"nil FetchOptions", func() error { var o *FetchOptions; return o.Validate() }},
		{"FetchOptions without identities", func() error { return (&FetchOptions{}).Validate() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var oe *lifeboat.OptionsError
			if err := tc.validate(); !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
				t.Fatalf("Validate = %v, want a *lifeboat.OptionsError", err)
			}
		})
	}
}
