package member

import (
	"testing"
	"time"

	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrAnotherRunUnfinished": ErrAnotherRunUnfinished, "ErrMemberHealthy": ErrMemberHealthy, "ErrMemberNotFound": ErrMemberNotFound,
		"ErrNoMachine": ErrNoMachine, "ErrNoUnhealthyMember": ErrNoUnhealthyMember, "ErrQuorumLost": ErrQuorumLost, "ErrWouldLoseQuorum": ErrWouldLoseQuorum,
	}
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "QuorumLostError", Err: &QuorumLostError{Healthy: 1, Voting: 3, Unhealthy: []string{"a", "b"}, Source: "member health checks"}, As: errtest.As[*QuorumLostError], Kinds: []error{ErrQuorumLost}, Not: []error{ErrWouldLoseQuorum}},
		{Name: "NoMachineError", Err: &NoMachineError{Node: "master-0", Namespace: "openshift-machine-api"}, As: errtest.As[*NoMachineError], Kinds: []error{ErrNoMachine}},
		{Name: "AnotherRunError", Err: &AnotherRunError{ConfigMap: "cm", Differences: []string{"member"}}, As: errtest.As[*AnotherRunError], Kinds: []error{ErrAnotherRunUnfinished}},
	})
}

// TestOptionsErrorNamesTheOption: each refusal, before any I/O, is a
// *lifeboat.OptionsError naming the option, dependency or argument at
// fault, qualified by its struct or function.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	f := etcdtest.NewCluster("master-0", "master-1", "master-2")
	deps := planDeps(f)
	replace := func(mutate func(*Deps, *ReplaceOptions)) error {
		d, o := deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, BackupDir: "/backup"}
		mutate(&d, &o)
		_, err := ReplacePlan(d, o)
		return err
	}
	call := func(_ any, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "no node", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.Node = "" }), Want: "member.ReplaceOptions.Node"},
		{Name: "no etcd", Err: replace(func(d *Deps, _ *ReplaceOptions) { d.Etcd = nil }), Want: "member.Deps.Etcd"},
		{Name: "no kube", Err: replace(func(d *Deps, _ *ReplaceOptions) { d.Kube = nil }), Want: "member.Deps.Kube"},
		{Name: "no operator", Err: replace(func(d *Deps, _ *ReplaceOptions) { d.Operator = nil }), Want: "member.Deps.Operator"},
		{Name: "no backup", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.BackupDir = "" }), Want: "member.ReplaceOptions.BackupDir"},
		{Name: "bad release", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.Release.Version = "four" }), Want: "member.ReplaceOptions.Release.Version"},
		{Name: "crashlooping without host", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.State = EtcdPodCrashlooping }), Want: "member.ReplaceOptions.Host"},
		{Name: "healthy", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.State = Healthy }), Want: "member.ReplaceOptions.State"},
		{Name: "unknown state", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.State = Unknown }), Want: "member.ReplaceOptions.State"},
		{Name: "negative members", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.ExpectedMembers = -1 }), Want: "member.ReplaceOptions.ExpectedMembers"},
		{Name: "negative interval", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.Interval = -time.Second }), Want: "member.ReplaceOptions.Interval"},
		{Name: "negative stop interval", Err: replace(func(_ *Deps, o *ReplaceOptions) { o.Stop.Interval = -time.Second }), Want: "member.ReplaceOptions.Stop.Interval"},
		{Name: "validate alone", Err: ReplaceOptions{Node: "master-0", State: NodeNotReady, BackupDir: "/backup", VerifyTimeout: -time.Minute}.Validate(), Want: "member.ReplaceOptions.VerifyTimeout"},
		{Name: "find without etcd", Err: call(FindUnhealthyMember(t.Context(), Deps{}, FindOptions{})), Want: "member.Deps.Etcd"},
		{Name: "find without health", Err: call(FindUnhealthyMember(t.Context(), Deps{Etcd: f}, FindOptions{})), Want: "member.Deps.Health"},
		{Name: "verify without etcd", Err: call(Verify(t.Context(), Deps{}, VerifyOptions{})), Want: "member.Deps.Etcd"},
		{Name: "remove without cluster", Err: call(RemoveMember(t.Context(), nil, 1, RemoveOptions{})), Want: "member.RemoveMember cluster"},
		{Name: "remove without health", Err: call(RemoveMember(t.Context(), f, 1, RemoveOptions{})), Want: "member.RemoveOptions.Health"},
		{Name: "secrets without kube", Err: call(DeleteMemberSecrets(t.Context(), nil, "master-0")), Want: "member.DeleteMemberSecrets kube"},
		{Name: "secrets without node", Err: call(DeleteMemberSecrets(t.Context(), kubefake.NewClientset(), "")), Want: "member.DeleteMemberSecrets node"},
		{Name: "machine without client", Err: call(RecreateMachine(t.Context(), nil, "master-0", RecreateOptions{})), Want: "member.RecreateMachine machines"},
		{Name: "machine without node", Err: call(RecreateMachine(t.Context(), machinefake.NewClientset(), "", RecreateOptions{})), Want: "member.RecreateMachine node"},
		{Name: "stop without host", Err: call(StopEtcdMember(t.Context(), nil, StopOptions{})), Want: "member.StopEtcdMember h"},
		{Name: "stop with negative interval", Err: call(StopEtcdMember(t.Context(), hosttest.NewDir("master-0", t.TempDir(), hosttest.DirOptions{}), StopOptions{Interval: -time.Second})), Want: "member.StopOptions.Interval"},
		{Name: "find with negative timeout", Err: call(FindUnhealthyMember(t.Context(), Deps{Etcd: f, Health: f}, FindOptions{HealthTimeout: -time.Second})), Want: "member.FindOptions.HealthTimeout"},
		{Name: "find with negative window", Err: call(FindUnhealthyMember(t.Context(), Deps{Etcd: f, Health: f}, FindOptions{StateOptions: StateOptions{CrashLoopWindow: -time.Minute}})), Want: "member.FindOptions.CrashLoopWindow"},
		{Name: "remove with negative timeout", Err: call(RemoveMember(t.Context(), f, 1, RemoveOptions{HealthTimeout: -time.Second})), Want: "member.RemoveOptions.HealthTimeout"},
		{Name: "verify with negative count", Err: call(Verify(t.Context(), Deps{Etcd: f}, VerifyOptions{Expected: -1})), Want: "member.VerifyOptions.Expected"},
		{Name: "machine with negative interval", Err: call(RecreateMachine(t.Context(), machinefake.NewClientset(), "master-0", RecreateOptions{Interval: -time.Second})), Want: "member.RecreateOptions.Interval"},
	})
}
