package backup

import (
	"errors"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
	"github.com/lifeboat-dev/lifeboat/plan"
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
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "PrecheckError", Err: &PrecheckError{Check: "space", Reason: "full", Err: ErrInsufficientSpace}, As: errtest.As[*PrecheckError], Kinds: []error{ErrInsufficientSpace}},
		{Name: "SnapshotError", Err: &SnapshotError{Op: "receive", Member: "m", Path: "/p", Err: ErrTruncated}, As: errtest.As[*SnapshotError], Kinds: []error{ErrTruncated}, Not: []error{ErrHashMismatch}},
		{Name: "VerifyError", Err: &VerifyError{Dir: "/d", Problems: []Problem{{File: "snapshot.db", Err: ErrHashMismatch}}}, As: errtest.As[*VerifyError], Kinds: []error{ErrInvalidBackup, ErrHashMismatch}, Not: []error{ErrTruncated}},
	})
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

// someSnapshotClient is a non-nil SnapshotClient for the refusals that
// happen before any call to it.
type someSnapshotClient struct{ SnapshotClient }

// TestOptionsErrorNamesTheOption: each refusal of TakePlan names the
// dependency or option at fault, qualified by its struct.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	h := host.NewLocal("master-0", t.TempDir(), host.LocalOptions{})
	etcd := someSnapshotClient{}
	build := func(_ *plan.Plan, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "no etcd", Err: build(TakePlan(TakeDeps{Host: h}, TakeOptions{Dir: "/backup"})), Want: "backup.TakeDeps.Etcd"},
		{Name: "no host", Err: build(TakePlan(TakeDeps{Etcd: etcd}, TakeOptions{Dir: "/backup"})), Want: "backup.TakeDeps.Host"},
		{Name: "no config without Force", Err: build(TakePlan(TakeDeps{Etcd: etcd, Host: h}, TakeOptions{Dir: "/backup"})), Want: "backup.TakeDeps.Config"},
		{Name: "no directory", Err: build(TakePlan(TakeDeps{Etcd: etcd, Host: h}, TakeOptions{Force: true})), Want: "backup.TakeOptions.Dir"},
		{Name: "negative buffer", Err: build(TakePlan(TakeDeps{Etcd: etcd, Host: h}, TakeOptions{Dir: "/backup", Force: true, Snapshot: SnapshotOptions{BufferSize: -1}})), Want: "backup.TakeOptions.Snapshot.BufferSize"},
		{Name: "validate alone", Err: TakeOptions{Dir: "/backup", Snapshot: SnapshotOptions{StatusTimeout: -time.Second}}.Validate(), Want: "backup.TakeOptions.Snapshot.StatusTimeout"},
	})
}
