package restore

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
	"github.com/lifeboat-dev/lifeboat/member"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrNeedsRestorePod": ErrNeedsRestorePod, "ErrNoQuorumRestore": ErrNoQuorumRestore, "ErrNotMemberDir": ErrNotMemberDir,
		"ErrOthersNotStopped": ErrOthersNotStopped, "ErrProcedureNotForRelease": ErrProcedureNotForRelease, "ErrRestorePodImage": ErrRestorePodImage,
		"ErrSnapshotTooNew": ErrSnapshotTooNew, "ErrTargetNotEmpty": ErrTargetNotEmpty, "ErrVersionMismatch": ErrVersionMismatch,
	}
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "AnotherRunError", Err: &AnotherRunError{Host: "master-0", StatePath: "/var/lib/x"}, As: errtest.As[*AnotherRunError], Kinds: []error{member.ErrAnotherRunUnfinished}},
		{Name: "NeedsRestorePodError", Err: &NeedsRestorePodError{}, As: errtest.As[*NeedsRestorePodError], Kinds: []error{ErrNeedsRestorePod}},
		{Name: "NotMemberDirError", Err: &NotMemberDirError{Host: "h", Dir: "/var/lib/etcd", Missing: []string{"member/snap/db"}}, As: errtest.As[*NotMemberDirError], Kinds: []error{ErrNotMemberDir}},
		{Name: "OthersNotStoppedError", Err: &OthersNotStoppedError{Hosts: map[string]string{"h": "etcd running"}}, As: errtest.As[*OthersNotStoppedError], Kinds: []error{ErrOthersNotStopped}},
		{Name: "PreflightError", Err: &PreflightError{Check: "member", Host: "h", Err: cause}, As: errtest.As[*PreflightError], Kinds: []error{cause}},
		{Name: "QuorumRestoreReleaseError", Err: &QuorumRestoreReleaseError{}, As: errtest.As[*QuorumRestoreReleaseError], Kinds: []error{ErrNoQuorumRestore}},
		{Name: "ReleaseMismatchError", Err: &ReleaseMismatchError{}, As: errtest.As[*ReleaseMismatchError], Kinds: []error{ErrProcedureNotForRelease}},
		{Name: "TargetNotEmptyError", Err: &TargetNotEmptyError{Dir: "/d", Entries: []string{"x"}}, As: errtest.As[*TargetNotEmptyError], Kinds: []error{ErrTargetNotEmpty}},
		{Name: "VersionMismatchError", Err: &VersionMismatchError{BackupVersion: "4.14.1", ClusterVersion: "4.14.2"}, As: errtest.As[*VersionMismatchError], Kinds: []error{ErrVersionMismatch}},
	})
}

// TestPlanRefusesMissingDeps: Plan returns the one invalid-options kind,
// never a panic, when the hosts and clients are missing.
func TestPlanRefusesMissingDeps(t *testing.T) {
	_, err := Plan(Deps{}, Options{BackupDir: "/home/core/backup"})
	var oe *lifeboat.OptionsError
	if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
		t.Fatalf("Plan(Deps{}, Options{BackupDir}) = %v, want a *lifeboat.OptionsError", err)
	}
}

// TestOptionsValidateNeedsNoDeps: Validate judges the options alone, so
// options that are fine pass it without any host or client, and the plan
// builder then refuses the missing Deps.
func TestOptionsValidateNeedsNoDeps(t *testing.T) {
	opts := Options{BackupDir: "/home/core/backup", ClusterEtcdVersion: "v3.5.9", LostMasters: []string{"master-2"}}
	if err := opts.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	var oe *lifeboat.OptionsError
	if _, err := Plan(Deps{}, opts); !errors.As(err, &oe) || oe.Option != "restore.Deps.Recovery" {
		t.Fatalf("Plan(Deps{}, opts) = %v, want a *lifeboat.OptionsError naming restore.Deps.Recovery", err)
	}
}
