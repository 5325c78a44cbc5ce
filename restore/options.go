package restore

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/release"
)

// Options configures Plan and Run: the tunables of the procedure, its
// hosts and clients being in Deps. One of BackupDir, BackupOnHost or
// Source is required; every other zero value is documented on its field.
// Validate checks them; Plan and Run call it before anything is read or
// changed.
type Options struct {
	// BackupDir is a backup directory on the machine running lifeboat; it
	// is copied to RemoteBackupDir on the recovery host (runbook step 3)
	// unless that is the same directory.
	BackupDir string
	// BackupOnHost is a backup directory already on the recovery host.
	// It wins over BackupDir.
	BackupOnHost string
	// RemoteBackupDir is where BackupDir is copied on the recovery host;
	// "/home/core/backup" when empty.
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

	// LostMasters are the node names of masters whose hosts are gone
	// (section 5.2). After the single member is up, each one's Machine is
	// deleted and re-created (member.RecreateMachine), so the forced etcd
	// rollout that follows adds the new masters as members. Requires
	// Deps.Machine. No name may appear twice or name a host of Deps.
	// Empty: the restore leaves the Machines alone, and replacement
	// masters can join later the chapter 2 way.
	LostMasters []string

	// Release tunes the decision of the cluster's procedure generation
	// (release.Options): the zero value detects from Deps.Config and the
	// recovery host; Release.Version or
	// Release.Generation states the release instead (the evidence is still
	// read and reported). Release.Logger nil: Logger. verify-backup
	// decides first, before any other check, in a dry run too, and
	// reports the generation, the version and the evidence that decided;
	// the run's state records it (StateData.Release). Run builds the plan
	// of the decided generation: the classic procedure for 4.5-4.17 (and
	// when nothing decides), the etcd-only restore for 4.18+ (which needs
	// Deps.Config, to wait for the ClusterOperators). Plan builds the etcd-only
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
	// ClusterEtcdVersion is the etcd version the cluster runs
	// (major.minor[.patch], "v" allowed: "3.5.9", "v3.6.0"); "" takes the
	// backup's (same z-stream, same etcd). It chooses between an
	// in-process restore and the restore pod (Decide). Validate refuses
	// one that does not parse.
	ClusterEtcdVersion string
	// ForceRestorePod always restores through a static pod running the
	// cluster's etcd image, even when the in-process restore is possible
	// (Deps.InProcess given).
	ForceRestorePod bool

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
	// AbandonUnfinished lets Run start although the recovery host holds
	// the unfinished state of another run (another backup, other hosts or
	// another method; see RunIdentity): that state is renamed
	// "<StatePath without .json>.abandoned-<UTC time>.json", kept for audit
	// with its list of moved files (StateData.Moves), and nothing the old run
	// did is undone. False: Run refuses with *AnotherRunError. A state of
	// the same run is always resumed.
	AbandonUnfinished bool

	// Interval is the polling interval of every wait; 2s when zero.
	// Negative is invalid, as for every timeout below but
	// RolloutStallTimeout.
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
	// Now is the clock of the run's state (its start, moves, finish and
	// retired names) and of its waits; plan.RunOptions.Now when nil,
	// else time.Now. Run stamps the plan's events with
	// plan.RunOptions.Now, or this clock when that is nil.
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

// Validate checks the options alone, without I/O and without Deps (Plan
// and Run then check the Deps against them): one of BackupDir,
// BackupOnHost or Source (Source's own Validate included), Release,
// LostMasters named once each, ClusterEtcdVersion parsable, Interval,
// ContainerTimeout, APITimeout, RolloutTimeout, StablePeriod and
// StableTimeout not negative. Each refusal is a
// *lifeboat.OptionsError (wrapping lifeboat.ErrInvalidOptions) naming
// "restore.Options.<Field>", or, for a combination, every field in its
// reason.
func (o Options) Validate() error {
	_, err := o.withDefaults()
	return err
}

// withDefaults validates o (Validate) and fills in the documented
// defaults.
func (o Options) withDefaults() (Options, error) {
	if o.BackupDir == "" && o.BackupOnHost == "" && o.Source == nil && !o.noBackup {
		return o, opterr.New("", "one of restore.Options.BackupDir, restore.Options.BackupOnHost or restore.Options.Source is required")
	}
	if err := validateSource(o); err != nil {
		return o, err
	}
	if err := o.Release.Validate(); err != nil {
		return o, opterr.Under(o.opt("Release"), "release.Options", err)
	}
	seen := map[string]bool{}
	for _, n := range o.LostMasters {
		if n == "" || seen[n] {
			return o, opterr.New(o.opt("LostMasters"), "%q is empty or given twice", n)
		}
		seen[n] = true
	}
	if o.ClusterEtcdVersion != "" {
		if _, err := majorMinor(o.ClusterEtcdVersion); err != nil {
			return o, opterr.New(o.opt("ClusterEtcdVersion"), "%v", err)
		}
	}
	if err := cmp.Or(
		opterr.Negative(o.opt("Interval"), o.Interval),
		opterr.Negative(o.opt("ContainerTimeout"), o.ContainerTimeout),
		opterr.Negative(o.opt("APITimeout"), o.APITimeout),
		opterr.Negative(o.opt("RolloutTimeout"), o.RolloutTimeout),
		opterr.Negative(o.opt("StablePeriod"), o.StablePeriod),
		opterr.Negative(o.opt("StableTimeout"), o.StableTimeout),
	); err != nil {
		return o, err
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
	if o.Interval == 0 {
		o.Interval = 2 * time.Second
	}
	if o.ContainerTimeout == 0 {
		o.ContainerTimeout = 10 * time.Minute
	}
	if o.APITimeout == 0 {
		o.APITimeout = 20 * time.Minute
	}
	if o.RolloutTimeout == 0 {
		o.RolloutTimeout = 30 * time.Minute
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
