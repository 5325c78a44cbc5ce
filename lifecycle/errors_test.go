package lifecycle

import (
	"errors"
	"io/fs"
	"testing"
	"time"

	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
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
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "NotStableError", Err: &NotStableError{NoOperators: true}, As: errtest.As[*NotStableError], Kinds: []error{ErrClusterNotStable}},
		{Name: "RecoveryError", Err: &RecoveryError{Phase: "nodes", NotReady: []string{"master-0"}, Err: cause}, As: errtest.As[*RecoveryError], Kinds: []error{ErrClusterDidNotRecover, cause}},
		{Name: "RolloutStalledError", Err: &RolloutStalledError{Reason: "r", CurrentReason: "r"}, As: errtest.As[*RolloutStalledError], Kinds: []error{ErrRolloutStalled}, Not: []error{ErrRolloutNotFinished}},
		{Name: "SignerExpiryError", Err: &SignerExpiryError{}, As: errtest.As[*SignerExpiryError], Kinds: []error{ErrSignerExpiresBeforeRestart}, Not: []error{ErrSignerExpiryUnknown}},
		{Name: "UnreachableError", Err: &UnreachableError{Attempts: []string{"https://api:6443: refused"}}, As: errtest.As[*UnreachableError], Kinds: []error{ErrAPIUnreachable}},
	})
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

// TestOptionsErrorNamesTheOption: each refusal names the option or
// dependency at fault, qualified by its struct (or its function, for an
// argument).
func TestOptionsErrorNamesTheOption(t *testing.T) {
	build := func(p any, err error) error { return err }
	_, noConfig := WaitForStableCluster(t.Context(), nil, StableOptions{})
	errtest.OptionNames(t, []errtest.Option{
		{Name: "shutdown without a backup", Err: ShutdownOptions{}.Validate(), Want: "lifecycle.ShutdownOptions.BackupDir"},
		{Name: "negative backup age", Err: ShutdownOptions{Override: "x", MaxBackupAge: -time.Second}.Validate(), Want: "lifecycle.ShutdownOptions.MaxBackupAge"},
		{Name: "negative parallelism", Err: ShutdownOptions{Override: "x", MaxParallel: -1}.Validate(), Want: "lifecycle.ShutdownOptions.MaxParallel"},
		{Name: "negative planned duration", Err: ShutdownOptions{Override: "x", PlannedDuration: -time.Second}.Validate(), Want: "lifecycle.ShutdownOptions.PlannedDuration"},
		{Name: "negative drain timeout", Err: ShutdownOptions{Override: "x", DrainTimeout: -time.Second}.Validate(), Want: "lifecycle.ShutdownOptions.DrainTimeout"},
		{Name: "shutdown without Kube", Err: build(ShutdownPlan(Deps{}, ShutdownOptions{Override: "x"})), Want: "lifecycle.Deps.Kube"},
		{Name: "shutdown without Hosts", Err: build(ShutdownPlan(Deps{Kube: fake.NewClientset()}, ShutdownOptions{Override: "x"})), Want: "lifecycle.Deps.Hosts"},
		{Name: "restart without Kube", Err: build(RestartPlan(Deps{}, RestartOptions{})), Want: "lifecycle.Deps.Kube"},
		{Name: "negative restart interval", Err: RestartOptions{Interval: -time.Second}.Validate(), Want: "lifecycle.RestartOptions.Interval"},
		{Name: "negative operators timeout", Err: RestartOptions{OperatorsTimeout: -time.Second}.Validate(), Want: "lifecycle.RestartOptions.OperatorsTimeout"},
		{Name: "negative stable period", Err: StableOptions{MinStablePeriod: -time.Second}.Validate(), Want: "lifecycle.StableOptions.MinStablePeriod"},
		{Name: "negative stable interval", Err: StableOptions{Interval: -time.Second}.Validate(), Want: "lifecycle.StableOptions.Interval"},
		{Name: "stable wait without config", Err: noConfig, Want: "lifecycle.WaitForStableCluster config"},
		{Name: "redeploy without ops", Err: build(ForceRedeploy(t.Context(), nil, Etcd, ForceRedeployOptions{})), Want: "lifecycle.ForceRedeploy ops"},
		{Name: "redeploy of an unknown operator", Err: build(ForceRedeploy(t.Context(), operatorfake.NewClientset(), Operator("openshiftapiserver"), ForceRedeployOptions{})), Want: "lifecycle.ForceRedeploy target"},
		{Name: "redeploy once without store", Err: func() error {
			_, _, err := ForceRedeployOnce(t.Context(), operatorfake.NewClientset(), Etcd, nil, ForceRedeployOptions{})
			return err
		}(), Want: "lifecycle.ForceRedeployOnce store"},
		{Name: "wait without ops", Err: build(WaitAllNodesAtLatestRevision(t.Context(), nil, KubeAPIServer, WaitOptions{})), Want: "lifecycle.WaitAllNodesAtLatestRevision ops"},
		{Name: "revisions without ops", Err: build(Revisions(t.Context(), nil, Etcd)), Want: "lifecycle.Revisions ops"},
		{Name: "read guard without ops", Err: build(ReadQuorumGuard(t.Context(), nil)), Want: "lifecycle.ReadQuorumGuard ops"},
		{Name: "disable guard without ops", Err: func() error {
			_, _, err := DisableQuorumGuard(t.Context(), nil, QuorumGuardOptions{})
			return err
		}(), Want: "lifecycle.DisableQuorumGuard ops"},
		{Name: "restore guard without ops", Err: build(RestoreQuorumGuard(t.Context(), nil, QuorumGuard{}, QuorumGuardOptions{})), Want: "lifecycle.RestoreQuorumGuard ops"},
		{Name: "annotation store without ops", Err: func() error {
			_, _, err := NewAnnotationRedeployStore(nil, "k").LoadRedeploy(t.Context(), Etcd)
			return err
		}(), Want: "lifecycle.NewAnnotationRedeployStore ops"},
	})
}
