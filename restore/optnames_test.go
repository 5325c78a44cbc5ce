package restore

import (
	"context"
	"errors"
	"testing"
	"time"

	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/release"
)

// refusingSource is a Source whose own settings are wrong.
type refusingSource struct{}

func (refusingSource) Validate() error { return opterr.Nil("offsite.RestoreSource.Options.Identities") }
func (refusingSource) Fetch(context.Context, string, func(string)) (*backup.Backup, error) {
	return nil, errors.New("refusingSource.Fetch: a source that does not validate is never fetched")
}
func (refusingSource) String() string { return "refusing source" }

// TestOptionsErrorNamesTheOption: each refusal names the field at fault,
// qualified by the struct the caller filled in (restore.Options, or
// QuorumRestoreOptions for a quorum restore, whose checks restore.Options
// shares; restore.Deps for the hosts and clients; plan.RunOptions), or
// lists every field of a combination in its reason.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	m0 := host.NewLocal("master-0", t.TempDir(), host.LocalOptions{})
	m1 := host.NewLocal("master-1", t.TempDir(), host.LocalOptions{})
	deps := func() Deps {
		return Deps{Recovery: m0, Kube: kubefake.NewClientset(), Operator: operatorfake.NewClientset()}
	}
	plan := func(mutate func(*job)) error {
		j := job{Deps: deps(), Options: Options{BackupDir: "/home/core/backup"}}
		mutate(&j)
		_, err := planJob(j)
		return err
	}
	// run refuses before anything is read: the hosts are never touched.
	run := func(mutate func(*job)) error {
		j := job{Deps: deps(), Options: Options{BackupDir: "/home/core/backup"}}
		mutate(&j)
		_, err := runJob(t.Context(), j)
		return err
	}
	quorum := func(mutate func(*quorumJob)) error {
		j := quorumJob{Deps: deps()}
		j.Config = clusterVersionClient("4.20.3")
		mutate(&j)
		_, err := quorumPlanJob(j)
		return err
	}
	runQuorum := func(mutate func(*quorumJob)) error {
		j := quorumJob{Deps: deps()}
		j.Config = clusterVersionClient("4.20.3")
		mutate(&j)
		_, err := runQuorumJob(t.Context(), j)
		return err
	}
	validate := func(o Options) error { return o.Validate() }
	snapshot := func(mutate func(*SnapshotOptions)) error {
		o := SnapshotOptions{Name: "master-0", PeerURL: "https://10.0.0.1:2380", Writer: func(context.Context, DataDirSpec) error { return nil }}
		mutate(&o)
		_, err := RestoreSnapshot(t.Context(), "/nonexistent/snapshot.db", t.TempDir()+"/member", o)
		return err
	}
	_, decideErr := Decide("3.5", "three")
	errtest.OptionNames(t, []errtest.Option{
		{Name: "no recovery host", Err: plan(func(o *job) { o.Recovery = nil }), Want: "restore.Deps.Recovery"},
		{Name: "no kube", Err: plan(func(o *job) { o.Kube = nil }), Want: "restore.Deps.Kube"},
		{Name: "no operator", Err: plan(func(o *job) { o.Operator = nil }), Want: "restore.Deps.Operator"},
		{Name: "run without recovery host", Err: run(func(o *job) { o.Recovery = nil }), Want: "restore.Deps.Recovery"},
		{Name: "run with a state", Err: run(func(o *job) { o.State = newState(m0, "/var/lib/other-state.json") }), Want: "plan.RunOptions.State"},
		{Name: "run with bad options", Err: run(func(o *job) { o.ClusterEtcdVersion = "three" }), Want: "restore.Options.ClusterEtcdVersion"},
		{Name: "no backup", Err: plan(func(o *job) { o.BackupDir = "" }), Want: "",
			Fields: []string{"restore.Options.BackupDir", "restore.Options.BackupOnHost", "restore.Options.Source"}},
		{Name: "fetch dir without source", Err: plan(func(o *job) { o.FetchDir = "/tmp/x" }), Want: "restore.Options.FetchDir"},
		{Name: "source and backup dir", Err: plan(func(o *job) { o.Source = refusingSource{} }), Want: "",
			Fields: []string{"restore.Options.Source", "restore.Options.BackupDir", "restore.Options.BackupOnHost"}},
		{Name: "source refused", Err: plan(func(o *job) { o.BackupDir, o.Source = "", refusingSource{} }), Want: "restore.Options.Source"},
		{Name: "bad release", Err: plan(func(o *job) { o.Release.Version = "four" }), Want: "restore.Options.Release.Version"},
		{Name: "lost masters without machine client", Err: plan(func(o *job) { o.LostMasters = []string{"master-2"} }), Want: "restore.Deps.Machine"},
		{Name: "lost master twice", Err: plan(func(o *job) { o.LostMasters = []string{"master-2", "master-2"} }), Want: "restore.Options.LostMasters"},
		{Name: "lost master also a host", Err: plan(func(o *job) {
			o.LostMasters, o.Machine = []string{"master-1"}, machinefake.NewClientset()
			o.Others = []host.Host{m1}
		}), Want: "restore.Options.LostMasters"},
		{Name: "nil other host", Err: plan(func(o *job) { o.Others = []host.Host{m1, nil} }), Want: "restore.Deps.Others"},
		{Name: "host given twice", Err: plan(func(o *job) { o.Others = []host.Host{m1, m1} }), Want: "restore.Deps.Others"},
		{Name: "recovery host among others", Err: plan(func(o *job) { o.Others = []host.Host{m0} }), Want: "restore.Deps.Others"},
		{Name: "cluster etcd version", Err: plan(func(o *job) { o.ClusterEtcdVersion = "three" }), Want: "restore.Options.ClusterEtcdVersion"},
		{Name: "validate cluster etcd version", Err: validate(Options{BackupDir: "/b", ClusterEtcdVersion: "3"}), Want: "restore.Options.ClusterEtcdVersion"},
		{Name: "negative interval", Err: validate(Options{BackupDir: "/b", Interval: -time.Second}), Want: "restore.Options.Interval"},
		{Name: "negative rollout timeout", Err: plan(func(o *job) { o.RolloutTimeout = -time.Minute }), Want: "restore.Options.RolloutTimeout"},
		{Name: "validate stable period", Err: validate(Options{BackupDir: "/b", StablePeriod: -time.Second}), Want: "restore.Options.StablePeriod"},
		{Name: "stable period", Err: plan(func(o *job) { o.StablePeriod = -time.Second }), Want: "restore.Options.StablePeriod"},
		{Name: "stable timeout", Err: plan(func(o *job) { o.StableTimeout = -time.Second }), Want: "restore.Options.StableTimeout"},
		{Name: "etcd-only without config", Err: plan(func(o *job) { o.Release.Generation = release.GenerationEtcdOnly }), Want: "restore.Deps.Config"},
		{Name: "quorum without config", Err: quorum(func(o *quorumJob) { o.Config = nil }), Want: "restore.Deps.Config"},
		{Name: "quorum without recovery", Err: quorum(func(o *quorumJob) { o.Recovery = nil }), Want: "restore.Deps.Recovery"},
		{Name: "quorum without kube", Err: quorum(func(o *quorumJob) { o.Kube = nil }), Want: "restore.Deps.Kube"},
		{Name: "quorum run with a state", Err: runQuorum(func(o *quorumJob) { o.State = newState(m0, "/var/lib/other-state.json") }), Want: "plan.RunOptions.State"},
		{Name: "quorum run without config", Err: runQuorum(func(o *quorumJob) { o.Config = nil }), Want: "restore.Deps.Config"},
		{Name: "quorum interval", Err: quorum(func(o *quorumJob) { o.Interval = -time.Second }), Want: "restore.QuorumRestoreOptions.Interval"},
		{Name: "quorum API timeout", Err: quorum(func(o *quorumJob) { o.APITimeout = -time.Second }), Want: "restore.QuorumRestoreOptions.APITimeout"},
		{Name: "quorum stable period", Err: quorum(func(o *quorumJob) { o.StablePeriod = -time.Second }), Want: "restore.QuorumRestoreOptions.StablePeriod"},
		{Name: "quorum release", Err: quorum(func(o *quorumJob) { o.Release.Version = "four" }), Want: "restore.QuorumRestoreOptions.Release.Version"},
		{Name: "quorum others twice", Err: quorum(func(o *quorumJob) { o.Others = []host.Host{m1, m1} }), Want: "restore.Deps.Others"},
		{Name: "attestation without evidence", Err: quorum(func(o *quorumJob) { o.Unreachable = map[string]string{"master-2": ""} }), Want: "restore.QuorumRestoreOptions.Unreachable"},
		{Name: "attested host also given", Err: quorum(func(o *quorumJob) { o.Unreachable = map[string]string{"master-0": "powered off"} }), Want: "",
			Fields: []string{"restore.Deps.Recovery", "restore.Deps.Others", "restore.QuorumRestoreOptions.Unreachable"}},
		{Name: "snapshot name", Err: snapshot(func(o *SnapshotOptions) { o.Name = "" }), Want: "restore.SnapshotOptions.Name"},
		{Name: "snapshot peer URL", Err: snapshot(func(o *SnapshotOptions) { o.PeerURL = "" }), Want: "restore.SnapshotOptions.PeerURL"},
		{Name: "snapshot relative peer URL", Err: snapshot(func(o *SnapshotOptions) { o.PeerURL = "10.0.0.1:2380" }), Want: "restore.SnapshotOptions.PeerURL"},
		{Name: "snapshot writer", Err: snapshot(func(o *SnapshotOptions) { o.Writer = nil }), Want: "restore.SnapshotOptions.Writer"},
		{Name: "cluster etcd version", Err: decideErr, Want: "restore.Decide clusterEtcdVersion"},
		{Name: "peer URL", Err: validatePeerURL("10.0.0.1:2380"), Want: "restore.Options.PeerURL"},
	})
}
