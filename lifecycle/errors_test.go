package lifecycle

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
		"ErrAPIUnreachable": ErrAPIUnreachable, "ErrClusterDidNotRecover": ErrClusterDidNotRecover, "ErrClusterNotStable": ErrClusterNotStable,
		"ErrHostCannotDial": ErrHostCannotDial, "ErrInvalidOverrides": ErrInvalidOverrides, "ErrNoRecentBackup": ErrNoRecentBackup,
		"ErrReasonAlreadySet": ErrReasonAlreadySet, "ErrRolloutNotFinished": ErrRolloutNotFinished, "ErrRolloutStalled": ErrRolloutStalled,
		"ErrShutdownIncomplete": ErrShutdownIncomplete, "ErrSignerExpiresBeforeRestart": ErrSignerExpiresBeforeRestart, "ErrSignerExpiryUnknown": ErrSignerExpiryUnknown,
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
		{"NotStableError", &NotStableError{NoOperators: true}, func(err error) bool { var e *NotStableError; return errors.As(err, &e) }, []error{ErrClusterNotStable}, nil},
		{"RecoveryError", &RecoveryError{Phase: "nodes", NotReady: []string{"master-0"}, Err: cause}, func(err error) bool { var e *RecoveryError; return errors.As(err, &e) }, []error{ErrClusterDidNotRecover, cause}, nil},
		{"RolloutStalledError", &RolloutStalledError{Reason: "r", CurrentReason: "r"}, func(err error) bool { var e *RolloutStalledError; return errors.As(err, &e) }, []error{ErrRolloutStalled}, []error{ErrRolloutNotFinished}},
		{"SignerExpiryError", &SignerExpiryError{}, func(err error) bool { var e *SignerExpiryError; return errors.As(err, &e) }, []error{ErrSignerExpiresBeforeRestart}, []error{ErrSignerExpiryUnknown}},
		{"UnreachableError", &UnreachableError{Attempts: []string{"https://api:6443: refused"}}, func(err error) bool { var e *UnreachableError; return errors.As(err, &e) }, []error{ErrAPIUnreachable}, nil},
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

// TestPlanBuildersRefuseBadDeps: the plan builders and Validate return
// the one invalid-options kind, never a panic, for nil clients and hosts
// and out-of-range options.
func TestPlanBuildersRefuseBadDeps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() error
	}{
		{"shutdown without clients", func() error { _, err := ShutdownPlan(Deps{}, ShutdownOptions{Override: "x"}); return err }},
		{"restart without clients", func() error { _, err := RestartPlan(Deps{}, RestartOptions{}); return err }},
		{"negative parallelism", func() error { return ShutdownOptions{Override: "x", MaxParallel: -1}.Validate() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build()
			var oe *lifeboat.OptionsError
			if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
				t.Fatalf("got %v, want a *lifeboat.OptionsError", err)
			}
		})
	}
}
