package restore

import (
	"context"
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// Options configures Plan and Run. Recovery, Kube and Operator are
// required, and one of BackupDir, BackupOnHost or Source; every other zero
// value is documented on its field.
type Options struct {
	// BackupDir is a backup directory on the machine running lifeboat; it
	// is copied to RemoteBackupDir on the recovery host (runbook step 3)
	// unless that is the same directory.
	BackupDir string
	// BackupOnHost is a backup directory already on the recovery host.
	// It wins over BackupDir.
	BackupOnHost string
	// RemoteBackupDir is where BackupDir is copied on the recovery host;
	// defaultRemoteBackupDir ("/home/core/backup") when empty.
	RemoteBackupDir string
	// Source is a backup kept elsewhere (offsite.RestoreSource: a
	// destination, a backup ID or the newest verified one, the age
	// identities). verify-backup first fetches it, decrypted and verified,
	// into a new directory under FetchDir on this machine, which then
	// serves as BackupDir; a refused fetch fails verify-backup with a
	// *PreflightError (Check "source") before any host is touched, in a
	// dry run too. The directory is removed when Run returns (a plan from
	// Plan run by the caller leaves it). Excludes BackupDir and
	// BackupOnHost.
	Source Source
	// FetchDir is the local directory Source's fetch creates its
	// directory in; os.TempDir() when empty. It needs room for the
	// uncompressed backup.
	FetchDir string

	// Recovery is the control-plane host the backup is restored on.
	Recovery host.Host
	// Others are the other masters that are still there. Lost masters
	// (section 5.2) are simply left out: zero others is valid.
	Others []host.Host

	// LostMasters are the node names of masters whose hosts are gone
	// (section 5.2). After the single member is up, each one's Machine is
	// deleted and re-created (member.RecreateMachine), so the forced etcd
	// rollout that follows adds the new masters as members. Requires
	// Machine. Empty: the restore leaves the Machines alone, and
	// replacement masters can join later the chapter 2 way.
	LostMasters []string

	// Kube, Operator and Machine reach the API (through its load
	// balancer): Kube and Operator are required; Machine is used to check
	// node-bootstrapper CSRs against Machines and may be nil.
	Kube     kubernetes.Interface
	Operator operatorclient.Interface
	Machine  machineclient.Interface

	// Config reads ClusterVersion "version", the first evidence of the
	// cluster's procedure generation (release.Detect); nil: the recovery
	// host alone decides. During a restore the API is usually down: the
	// read is bounded by Release.APITimeout and the host decides then.
	Config configclient.Interface
	// Release tunes that decision (release.Options): the zero value
	// detects from Config and the recovery host; Release.Version or
	// Release.Generation states the release instead (the evidence is still
	// read and reported). Release.Logger nil: Logger. verify-backup
	// decides first, before any other check, in a dry run too, and
	// reports the generation, the version and the evidence that decided;
	// the run's state records it (StateData.Release). Run builds the plan
	// of the decided generation: the classic procedure for 4.5-4.17 (and
	// when nothing decides), the etcd-only restore for 4.18+ (which needs
	// Config, to wait for the ClusterOperators). Plan builds the etcd-only
	// one only when Release states it; a classic plan on an etcd-only
	// cluster is refused with a *PreflightError (Check "release").
	Release release.Options
	// AllowClassicOnEtcdOnly runs the 4.5 runbook's classic restore on a
	// cluster decided to be of the etcd-only generation (4.18+) instead of
	// its own etcd-only restore. The acceptance is reported and recorded
	// in the state.
	AllowClassicOnEtcdOnly bool

	// ClusterVersion is the OpenShift version the cluster runs ("4.5.2").
	// The backup's (from backup.json) must be the same z-stream unless
	// AllowVersionMismatch; "" skips the check with a warning (a backup of
	// cluster-backup.sh records no version either).
	ClusterVersion       string
	AllowVersionMismatch bool
	// ClusterEtcdVersion is the etcd version the cluster runs; "" takes
	// the backup's (same z-stream, same etcd). It chooses between an
	// in-process restore and the restore pod (Decide).
	ClusterEtcdVersion string
	// ForceRestorePod always restores through a static pod running the
	// cluster's etcd image, even when the in-process restore is possible.
	ForceRestorePod bool
	// InProcess writes the data directory in this process when Decide
	// says InProcess and the recovery host's files are local:
	// inprocess.WriteDataDir (package restore/inprocess, etcd's etcdutl
	// library). nil: every restore goes through the restore pod, as with
	// ForceRestorePod (restore does not build the etcd server itself).
	InProcess DataDirWriter

	// MemberName and PeerURL of the restored member; empty: read from the
	// backup's etcd-pod.yaml for the recovery host (--name,
	// --initial-advertise-peer-urls), the name falling back to the host's
	// name.
	MemberName string
	PeerURL    string
	// RevisionBump overrides the bump (see SnapshotOptions.RevisionBump);
	// NoRevisionBump disables bump and compaction.
	RevisionBump   uint64
	NoRevisionBump bool

	// Host paths; the OpenShift ones when empty (/etc/kubernetes/manifests,
	// /etc/kubernetes, /var/lib/etcd, /var/lib/etcd-backup,
	// /var/lib/lifeboat/restore-aside, /var/lib/lifeboat/restore-state.json). AsideDir receives everything the
	// restore moves out of the way on every host (a directory under
	// /var/lib rather than the runbook's /tmp, which may be a tmpfs).
	ManifestDir   string
	ConfigDir     string
	EtcdDataDir   string
	EtcdBackupDir string
	AsideDir      string
	StatePath     string

	// FreeSpace measures the room at a path of a host (its nearest
	// existing ancestor) for verify-backup's free-space check; nil: statfs
	// for hosts whose files are local to this process, else "stat -f"
	// run on the host.
	FreeSpace func(ctx context.Context, h host.Host, path string) (FreeSpace, error)

	// SkipCSRApproval leaves pending node-bootstrapper CSRs alone (5.4);
	// by default the last step approves the valid ones.
	SkipCSRApproval bool
	// DryRun makes Run verify the backup and list the plan without
	// changing anything (plan.RunOptions.DryRun: the checks run, the
	// other steps are reported as plan.WouldRun).
	DryRun bool
	// AbandonUnfinished lets Run start although the recovery host holds
	// the unfinished state of another run (another backup, other hosts or
	// another method; see RunIdentity): that state is renamed
	// "<StatePath without .json>.abandoned-<UTC time>.json", kept for audit
	// with its list of moved files (StateData.Moves), and nothing the old run
	// did is undone. False: Run refuses with *AnotherRunError. A state of
	// the same run is always resumed.
	AbandonUnfinished bool

	// Interval is the polling interval of every wait; 2s when zero.
	Interval time.Duration
	// ContainerTimeout bounds each wait for containers to stop or start;
	// 10 minutes when zero.
	ContainerTimeout time.Duration
	// APITimeout bounds the wait for the single-member control plane and
	// the final member check; 20 minutes when zero.
	APITimeout time.Duration
	// RolloutTimeout bounds each operator's rollout; 30 minutes when zero.
	RolloutTimeout time.Duration
	// RolloutStallTimeout is how long an operator may leave a forced
	// redeployment unanswered (no new revision, no rollout progress)
	// before its wait fails with lifecycle.ErrRolloutStalled instead of
	// waiting out RolloutTimeout; 10 minutes (lifecycle's default) when zero,
	// never when negative.
	RolloutStallTimeout time.Duration

	// StablePeriod is how long the etcd-only restore (4.18+) waits for
	// every ClusterOperator to stay Available, not Progressing, not
	// Degraded before it turns the quorum guard back on;
	// lifecycle.DefaultMinStablePeriod (5 minutes, the default of
	// "oc adm wait-for-stable-cluster") when zero. StableTimeout bounds
	// that wait (and again the one after a forced redeployment); 30
	// minutes when zero. Negative is invalid.
	StablePeriod  time.Duration
	StableTimeout time.Duration

	// Logger receives records of every action; nil discards them.
	Logger *slog.Logger
	// Report receives the plan's progress events (Run only).
	Report func(plan.Event)
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// noBackup: the options of a quorum restore, which uses no backup.
	noBackup bool
}

// opt names field of the options the caller filled in, for an
// *lifeboat.OptionsError: "restore.Options.<field>", or
// "restore.QuorumRestoreOptions.<field>" for the options a quorum restore
// was given (see QuorumRestoreOptions.options).
func (o Options) opt(field string) string {
	if o.noBackup {
		return "restore.QuorumRestoreOptions." + field
	}
	return "restore.Options." + field
}

func (o Options) withDefaults() (Options, error) {
	if o.Recovery == nil {
		return o, opterr.Nil(o.opt("Recovery"))
	}
	if o.Kube == nil {
		return o, opterr.Nil(o.opt("Kube"))
	}
	if o.Operator == nil {
		return o, opterr.Nil(o.opt("Operator"))
	}
	if o.BackupDir == "" && o.BackupOnHost == "" && o.Source == nil && !o.noBackup {
		return o, opterr.New("", "one of restore.Options.BackupDir, restore.Options.BackupOnHost or restore.Options.Source is required")
	}
	if err := validateSource(o); err != nil {
		return o, err
	}
	if err := o.Release.Validate(); err != nil {
		return o, opterr.Under(o.opt("Release"), "release.Options", err)
	}
	if len(o.LostMasters) > 0 && o.Machine == nil {
		return o, opterr.New(o.opt("Machine"), "is required when LostMasters are given")
	}
	seen := map[string]bool{o.Recovery.Name(): true}
	for i, h := range o.Others {
		if h == nil {
			return o, opterr.New(o.opt("Others"), "[%d] is nil", i)
		}
		if seen[h.Name()] {
			return o, opterr.New(o.opt("Others"), "host %s is given twice (or is the Recovery host)", h.Name())
		}
		seen[h.Name()] = true
	}
	for _, n := range o.LostMasters {
		if seen[n] {
			return o, opterr.New(o.opt("LostMasters"), "%s is also given as a host (Recovery or Others) or twice", n)
		}
		seen[n] = true
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&o.RemoteBackupDir, defaultRemoteBackupDir)
	def(&o.ManifestDir, defaultManifestDir)
	def(&o.ConfigDir, defaultConfigDir)
	def(&o.EtcdDataDir, defaultEtcdDataDir)
	def(&o.EtcdBackupDir, defaultEtcdBackupDir)
	def(&o.AsideDir, defaultAsideDir)
	def(&o.StatePath, defaultStatePath)
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.ContainerTimeout <= 0 {
		o.ContainerTimeout = 10 * time.Minute
	}
	if o.APITimeout <= 0 {
		o.APITimeout = 20 * time.Minute
	}
	if o.RolloutTimeout <= 0 {
		o.RolloutTimeout = 30 * time.Minute
	}
	if o.StablePeriod < 0 {
		return o, opterr.New(o.opt("StablePeriod"), "%s is negative", o.StablePeriod)
	}
	if o.StableTimeout < 0 {
		return o, opterr.New(o.opt("StableTimeout"), "%s is negative", o.StableTimeout)
	}
	if o.StablePeriod == 0 {
		o.StablePeriod = lifecycle.DefaultMinStablePeriod
	}
	if o.StableTimeout == 0 {
		o.StableTimeout = 30 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Release.Logger == nil {
		o.Release.Logger = o.Logger
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
