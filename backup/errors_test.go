package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrAmbiguous": ErrAmbiguous, "ErrBackupRoot": ErrBackupRoot, "ErrBadArchive": ErrBadArchive, "ErrBadManifest": ErrBadManifest,
		"ErrClusterInfo": ErrClusterInfo, "ErrCorruptDatabase": ErrCorruptDatabase, "ErrHashMismatch": ErrHashMismatch, "ErrInsufficientSpace": ErrInsufficientSpace,
		"ErrInvalidBackup": ErrInvalidBackup, "ErrMissingFile": ErrMissingFile, "ErrNoHash": ErrNoHash, "ErrNoHealthyMember": ErrNoHealthyMember,
		"ErrOperatorProgressing": ErrOperatorProgressing, "ErrOperatorStatusUnknown": ErrOperatorStatusUnknown, "ErrResourcesMissing": ErrResourcesMissing,
		"ErrShortWrite": ErrShortWrite, "ErrTimestampMismatch": ErrTimestampMismatch, "ErrTooEarly": ErrTooEarly, "ErrTruncated": ErrTruncated,
		"ErrUnsafeEntry": ErrUnsafeEntry, "ErrUnsafeResource": ErrUnsafeResource,
	}
	for name, s := range sentinels {
		if s == nil || s.Error() == "" {
			t.Errorf("%s is nil or has no text", name)
			continue
		}
		if w := fmt.Errorf("op target: %w", s); !errors.Is(w, s) {
			t.Errorf("%s does not survive wrapping", name)
		}
		for other, o := range sentinels {
			if other != name && errors.Is(s, o) {
				t.Errorf("errors.Is(%s, %s): two sentinels for one failure", name, other)
			}
		}
	}
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	_ = cause
	for _, tc := range []struct {
		name  string
		err   error
		as    func(error) bool
		kinds []error
		not   []error
	}{
		{"PrecheckError", &PrecheckError{Check: "space", Reason: "full", Err: ErrInsufficientSpace}, func(err error) bool { var e *PrecheckError; return errors.As(err, &e) }, []error{ErrInsufficientSpace}, nil},
		{"SnapshotError", &SnapshotError{Op: "receive", Member: "m", Path: "/p", Err: ErrTruncated}, func(err error) bool { var e *SnapshotError; return errors.As(err, &e) }, []error{ErrTruncated}, []error{ErrHashMismatch}},
		{"VerifyError", &VerifyError{Dir: "/d", Problems: []Problem{{File: "snapshot.db", Err: ErrHashMismatch}}}, func(err error) bool { var e *VerifyError; return errors.As(err, &e) }, []error{ErrInvalidBackup, ErrHashMismatch}, []error{ErrTruncated}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := fmt.Errorf("op target: %w", tc.err)
			if !tc.as(w) {
				t.Errorf("errors.As(%v) finds no %s", w, tc.name)
			}
			for _, k := range tc.kinds {
				if !errors.Is(w, k) {
					t.Errorf("errors.Is(%v, %v) = false", w, k)
				}
			}
			for _, k := range tc.not {
				if errors.Is(w, k) {
					t.Errorf("errors.Is(%v, %v) = true", w, k)
				}
			}
			if tc.err.Error() == "" {
				t.Error("empty message")
			}
		})
	}
}

// TestVerifyEmptyDirectory produces ErrInvalidBackup and ErrMissingFile
// through the public API: an empty directory is not a backup.
func TestVerifyEmptyDirectory(t *testing.T) {
	_, err := Verify(t.Context(), t.TempDir(), VerifyOptions{})
	var ve *VerifyError
	if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidBackup) {
		t.Fatalf("Verify(empty dir) = %v, want a *VerifyError", err)
	}
}

// TestTakePlanRefusesMissingDeps: TakePlan returns the one invalid-options
// kind, not a panic, for nil clients and hosts.
func TestTakePlanRefusesMissingDeps(t *testing.T) {
	_, err := TakePlan(TakeDeps{}, TakeOptions{Dir: t.TempDir()})
	var oe *lifeboat.OptionsError
	if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
		t.Fatalf("TakePlan(no deps) = %v, want a *lifeboat.OptionsError", err)
	}
}
