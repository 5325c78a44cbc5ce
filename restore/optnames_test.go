package restore

import (
	"context"
	"errors"
	"testing"
	"time"

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

// TestOptionsErrorNamesTheOption: each refusal names the option at fault,
// qualified by the struct the caller filled in (restore.Options, or
// QuorumRestoreOptions for a quorum restore, whose checks restore.Options
// shares), or lists every field of a combination in its reason.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	m0 := host.NewLocal("master-0", t.TempDir(), host.LocalOptions{})
	m1 := host.NewLocal("master-1", t.TempDir(), host.LocalOptions{})
	plan := func(mutate func(*Options)) error {
		o := Options{Recovery: m0, Kube: kubefake.NewClientset(), Operator: operatorfake.NewClientset(), BackupDir: "/home/core/backup"}
		mutate(&o)
		_, err := Plan(o)
		return err
	}
	quorum := func(mutate func(*QuorumRestoreOptions)) error {
		o := QuorumRestoreOptions{Recovery: m0, Kube: kubefake.NewClientset(), Operator: operatorfake.NewClientset(), Config: clusterVersionClient("4.20.3")}
		mutate(&o)
		_, err := QuorumRestorePlan(o)
		return err
	}
	snapshot := func(mutate func(*SnapshotOptions)) error {
		o := SnapshotOptions{Name: "master-0", PeerURL: "https://10.0.0.1:2380", Writer: func(context.Context, DataDirSpec) error { return nil }}
		mutate(&o)
		_, err := RestoreSnapshot(t.Context(), "/nonexistent/snapshot.db", t.TempDir()+"/member", o)
		return err
	}
	_, decideErr := Decide("3.5", "three")
	errtest.OptionNames(t, []errtest.Option{
		{Name: "no recovery host", Err: plan(func(o *Options) { o.Recovery = nil }), Want: "restore.Options.Recovery"},
		{Name: "no kube", Err: plan(func(o *Options) { o.Kube = nil }), Want: "restore.Options.Kube"},
		{Name: "no operator", Err: plan(func(o *Options) { o.Operator = nil }), Want: "restore.Options.Operator"},
		{Name: "no backup", Err: plan(func(o *Options) { o.BackupDir = "" }), Want: "",
			Fields: []string{"restore.Options.BackupDir", "restore.Options.BackupOnHost", "restore.Options.Source"}},
		{Name: "fetch dir without source", Err: plan(func(o *Options) { o.FetchDir = "/tmp/x" }), Want: "restore.Options.FetchDir"},
		{Name: "source and backup dir", Err: plan(func(o *Options) { o.Source = refusingSource{} }), Want: "",
			Fields: []string{"restore.Options.Source", "restore.Options.BackupDir", "restore.Options.BackupOnHost"}},
		{Name: "source refused", Err: plan(func(o *Options) { o.BackupDir, o.Source = "", refusingSource{} }), Want: "restore.Options.Source"},
		{Name: "bad release", Err: plan(func(o *Options) { o.Release.Version = "four" }), Want: "restore.Options.Release.Version"},
		{Name: "lost masters without machine client", Err: plan(func(o *Options) { o.LostMasters = []string{"master-2"} }), Want: "restore.Options.Machine"},
		{Name: "nil other host", Err: plan(func(o *Options) { o.Others = []host.Host{m1, nil} }), Want: "restore.Options.Others"},
		{Name: "host given twice", Err: plan(func(o *Options) { o.Others = []host.Host{m1, m1} }), Want: "restore.Options.Others"},
		{Name: "stable period", Err: plan(func(o *Options) { o.StablePeriod = -time.Second }), Want: "restore.Options.StablePeriod"},
		{Name: "stable timeout", Err: plan(func(o *Options) { o.StableTimeout = -time.Second }), Want: "restore.Options.StableTimeout"},
		{Name: "etcd-only without config", Err: plan(func(o *Options) { o.Release.Generation = release.GenerationEtcdOnly }), Want: "restore.Options.Config"},
		{Name: "quorum without config", Err: quorum(func(o *QuorumRestoreOptions) { o.Config = nil }), Want: "restore.QuorumRestoreOptions.Config"},
		{Name: "quorum without recovery", Err: quorum(func(o *QuorumRestoreOptions) { o.Recovery = nil }), Want: "restore.QuorumRestoreOptions.Recovery"},
		{Name: "quorum without kube", Err: quorum(func(o *QuorumRestoreOptions) { o.Kube = nil }), Want: "restore.QuorumRestoreOptions.Kube"},
		{Name: "quorum interval", Err: quorum(func(o *QuorumRestoreOptions) { o.Interval = -time.Second }), Want: "restore.QuorumRestoreOptions.Interval"},
		{Name: "quorum API timeout", Err: quorum(func(o *QuorumRestoreOptions) { o.APITimeout = -time.Second }), Want: "restore.QuorumRestoreOptions.APITimeout"},
		{Name: "quorum stable period", Err: quorum(func(o *QuorumRestoreOptions) { o.StablePeriod = -time.Second }), Want: "restore.QuorumRestoreOptions.StablePeriod"},
		{Name: "quorum release", Err: quorum(func(o *QuorumRestoreOptions) { o.Release.Version = "four" }), Want: "restore.QuorumRestoreOptions.Release.Version"},
		{Name: "quorum others twice", Err: quorum(func(o *QuorumRestoreOptions) { o.Others = []host.Host{m1, m1} }), Want: "restore.QuorumRestoreOptions.Others"},
		{Name: "attestation without evidence", Err: quorum(func(o *QuorumRestoreOptions) { o.Unreachable = map[string]string{"master-2": ""} }), Want: "restore.QuorumRestoreOptions.Unreachable"},
		{Name: "attested host also given", Err: quorum(func(o *QuorumRestoreOptions) { o.Unreachable = map[string]string{"master-0": "powered off"} }), Want: "",
			Fields: []string{"restore.QuorumRestoreOptions.Recovery", "restore.QuorumRestoreOptions.Others", "restore.QuorumRestoreOptions.Unreachable"}},
		{Name: "snapshot name", Err: snapshot(func(o *SnapshotOptions) { o.Name = "" }), Want: "restore.SnapshotOptions.Name"},
		{Name: "snapshot peer URL", Err: snapshot(func(o *SnapshotOptions) { o.PeerURL = "" }), Want: "restore.SnapshotOptions.PeerURL"},
		{Name: "snapshot relative peer URL", Err: snapshot(func(o *SnapshotOptions) { o.PeerURL = "10.0.0.1:2380" }), Want: "restore.SnapshotOptions.PeerURL"},
		{Name: "snapshot writer", Err: snapshot(func(o *SnapshotOptions) { o.Writer = nil }), Want: "restore.SnapshotOptions.Writer"},
		{Name: "cluster etcd version", Err: decideErr, Want: "restore.Decide clusterEtcdVersion"},
		{Name: "peer URL", Err: validatePeerURL("10.0.0.1:2380"), Want: "restore.Options.PeerURL"},
	})
}
