package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
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
		{"AnotherRunError", &AnotherRunError{Host: "master-0", StatePath: "/var/lib/x"}, func(err error) bool { var e *AnotherRunError; return errors.As(err, &e) }, []error{member.ErrAnotherRunUnfinished}, nil},
		{"NeedsRestorePodError", &NeedsRestorePodError{}, func(err error) bool { var e *NeedsRestorePodError; return errors.As(err, &e) }, []error{ErrNeedsRestorePod}, nil},
		{"NotMemberDirError", &NotMemberDirError{Host: "h", Dir: "/var/lib/etcd", Missing: []string{"member/snap/db"}}, func(err error) bool { var e *NotMemberDirError; return errors.As(err, &e) }, []error{ErrNotMemberDir}, nil},
		{"OthersNotStoppedError", &OthersNotStoppedError{Hosts: map[string]string{"h": "etcd running"}}, func(err error) bool { var e *OthersNotStoppedError; return errors.As(err, &e) }, []error{ErrOthersNotStopped}, nil},
		{"PreflightError", &PreflightError{Check: "member", Host: "h", Err: cause}, func(err error) bool { var e *PreflightError; return errors.As(err, &e) }, []error{cause}, nil},
		{"QuorumRestoreReleaseError", &QuorumRestoreReleaseError{}, func(err error) bool { var e *QuorumRestoreReleaseError; return errors.As(err, &e) }, []error{ErrNoQuorumRestore}, nil},
		{"ReleaseMismatchError", &ReleaseMismatchError{}, func(err error) bool { var e *ReleaseMismatchError; return errors.As(err, &e) }, []error{ErrProcedureNotForRelease}, nil},
		{"TargetNotEmptyError", &TargetNotEmptyError{Dir: "/d", Entries: []string{"x"}}, func(err error) bool { var e *TargetNotEmptyError; return errors.As(err, &e) }, []error{ErrTargetNotEmpty}, nil},
		{"VersionMismatchError", &VersionMismatchError{BackupVersion: "4.14.1", ClusterVersion: "4.14.2"}, func(err error) bool { var e *VersionMismatchError; return errors.As(err, &e) }, []error{ErrVersionMismatch}, nil},
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

// TestPlanRefusesMissingDeps: Plan returns the one invalid-options kind,
// never a panic, when the hosts and clients are missing.
func TestPlanRefusesMissingDeps(t *testing.T) {
	_, err := Plan(Options{})
	var oe *lifeboat.OptionsError
	if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
		t.Fatalf("Plan(Options{}) = %v, want a *lifeboat.OptionsError", err)
	}
}
