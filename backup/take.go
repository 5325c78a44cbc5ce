package backup

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	configclient "github.com/openshift/client-go/config/clientset/versioned"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TakeOptions configure TakePlan. Dir is required; every other zero
// value is documented on its field.
type TakeOptions struct {
	// Force skips the ClusterOperator check, as cluster-backup.sh --force
	// does, and marks both files __POSSIBLY_DIRTY__. With Force, cluster
	// information that cannot be read becomes a warning instead of an
	// error (the API may be down: that is when Force is used).
	Force bool
	// Endpoint is the etcd client URL to snapshot; empty means the first
	// healthy follower (see Snapshot).
	Endpoint string
	// ConfigDir is the host's Kubernetes configuration directory; empty
	// means /etc/kubernetes.
	ConfigDir string
	// MinClusterAge is the minimum time since installation; 0 means 24 h
	// (the first certificate rotation). Negative disables the check.
	MinClusterAge time.Duration
	// Now is the clock for the file stamp and the checks; nil means
	// time.Now.
	Now func() time.Time
	// FreeSpace measures the bytes available in a directory; nil means
	// statfs.
	FreeSpace func(dir string) (uint64, error)
	// Logger receives the procedure's records; nil discards them.
	Logger *slog.Logger
	// Dir is the directory the backup is written to, on the machine running
	// this process (not on Host: run the program on the master for the
	// runbook's /home/core/assets/backup); required.
	Dir string
	// Result, when set, receives the backup when a TakePlan run finishes.
	Result *Backup
	// Snapshot tunes the snapshot transfer (BufferSize, WrapWriter,
	// StatusTimeout); the plan sets its Name, Endpoint and Logger.
	Snapshot SnapshotOptions
}

// BackupFile is one file of a backup.
type BackupFile struct {
	Name   string
	Path   string
	Size   int64
	SHA256 string
}

// Backup describes a backup directory's snapshot/archive pair: the result
// of TakePlan and Verify.
type Backup struct {
	// Dir is the directory holding the pair, as given to TakePlan or Verify.
	Dir string
	// Timestamp is the pair's stamp, "2006-01-02_150405" (TimestampLayout),
	// without DirtyMarker.
	Timestamp string
	// PossiblyDirty is true when the files carry DirtyMarker in their
	// names: taken with TakeOptions.Force or cluster-backup.sh --force, without
	// the ClusterOperator check, so possibly mid-rollout.
	PossiblyDirty bool
	// Snapshot and Resources are snapshot_<stamp>.db and
	// static_kuberesources_<stamp>.tar.gz.
	Snapshot  BackupFile
	Resources BackupFile
	// Revision is the etcd revision: from the manifest, else read from the
	// snapshot's database.
	Revision int64
	// EtcdVersion is from the manifest, else the storage version recorded
	// in the snapshot (etcd >= 3.6).
	EtcdVersion string
	// ClusterVersion is from the manifest ("" without one).
	ClusterVersion string
	// Manifest is backup.json when it describes this pair, else nil.
	Manifest *Manifest
	// ResourceDirs are the archived component directories.
	ResourceDirs []ResourceDir
	// SnapshotInfo and Archive are what Verify read in the two files
	// (nil from TakePlan, or when the file could not be read).
	SnapshotInfo *SnapshotInfo
	Archive      *ArchiveInfo
	// Proxy are the cluster-wide proxy settings TakePlan found (export them
	// with Proxy.Env() for anything run on the master).
	Proxy Proxy
	// Warnings are things worth knowing that did not stop the backup
	// (forced checks, fallbacks, unreadable cluster information).
	Warnings []string
}

// Validate reports options TakePlan cannot use, before anything is built
// or touched; each refusal is a *lifeboat.OptionsError
// (lifeboat.ErrInvalidOptions) naming the field: Dir is required, and
// Snapshot.BufferSize and Snapshot.StatusTimeout must not be negative
// (zero takes their defaults). A negative MinClusterAge is valid: it
// disables the certificate-rotation check. TakeDeps are checked by
// TakePlan.
func (o TakeOptions) Validate() error {
	if o.Dir == "" {
		return opterr.Nil("backup.TakeOptions.Dir")
	}
	return cmp.Or(
		opterr.Negative("backup.TakeOptions.Snapshot.BufferSize", o.Snapshot.BufferSize),
		opterr.Negative("backup.TakeOptions.Snapshot.StatusTimeout", o.Snapshot.StatusTimeout),
	)
}

// TakeDeps are what TakePlan acts through; the plan keeps them and does
// no I/O until it runs.
type TakeDeps struct {
	// Etcd is the cluster's etcd client; required.
	Etcd SnapshotClient
	// Host is the master whose static pod resources are archived (the
	// runbook's "oc debug node/<master>; chroot /host"); required.
	Host host.Host
	// Config reads the ClusterOperators, ClusterVersion, Proxy and
	// APIServer objects. Required unless TakeOptions.Force, where nil
	// means the cluster information is left out of the manifest.
	Config configclient.Interface
}

// TakePlan is runbook chapter 1, "Backing up etcd data", the way
// cluster-backup.sh does it, as a plan built without I/O that writes the
// backup into opts.Dir (required; a directory of the machine running the
// plan, not of deps.Host):
//
//  1. "precheck" (read-only): each failure a *PrecheckError naming its
//     fix: the kube-apiserver, kube-controller-manager, kube-scheduler and
//     etcd ClusterOperators are not Progressing (skipped with Force); the
//     cluster is past its first certificate rotation; dir has at least
//     twice the etcd database size free; the cluster-wide proxy settings
//     are read (Backup.Proxy);
//  2. "resources": static_kuberesources_<stamp>.tar.gz (see
//     ArchiveStaticResources);
//  3. "snapshot": snapshot_<stamp>.db (see Snapshot), with the same
//     stamp, its bytes reported as Progress events (plan.ReportBytes);
//     if it fails, the archive just written is removed, so a failed run
//     leaves no files (as the script's ERR trap does);
//  4. "manifest": backup.json (see Manifest).
//
// opts.Result, when set, receives the backup once the run finished. A
// dry run (plan.RunOptions.DryRun) runs the pre-checks only. It returns an
// error wrapping lifeboat.ErrInvalidOptions (a required dependency or Dir missing)
// before building anything.
func TakePlan(deps TakeDeps, opts TakeOptions) (*plan.Plan, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	switch {
	case deps.Etcd == nil:
		return nil, opterr.Nil("backup.TakeDeps.Etcd")
	case deps.Host == nil:
		return nil, opterr.Nil("backup.TakeDeps.Host")
	case deps.Config == nil && !opts.Force:
		return nil, opterr.New("backup.TakeDeps.Config", "is required unless TakeOptions.Force is set")
	}
	tk := &taker{deps: deps, opts: opts, log: logger(opts.Logger)}
	return &plan.Plan{Name: "backup", Steps: []plan.Step{
		{ID: "precheck", ReadOnly: true, Run: tk.precheck,
			Description: "check that no control-plane operator is progressing, the certificate rotation and the free space in " + opts.Dir},
		{ID: "resources", Run: tk.resources, Description: "archive the latest static pod resources of " + deps.Host.Name()},
		{ID: "snapshot", Run: tk.snapshot, Description: "save an etcd snapshot, its sha256 verified as it streams"},
		{ID: "manifest", Run: tk.manifest, Description: "write " + ManifestFileName},
	}}, nil
}

// taker is one run of TakePlan across its steps.
type taker struct {
	deps TakeDeps
	opts TakeOptions
	log  *slog.Logger
	t    time.Time
	b    *Backup
	info *ClusterInfo
	st   *memberStatus
	rr   *ResourcesResult
	sr   *SnapshotResult
}

func (tk *taker) warn(msg string, args ...any) {
	tk.b.Warnings = append(tk.b.Warnings, fmt.Sprintf(msg, args...))
	tk.log.Warn(fmt.Sprintf(msg, args...))
}

func (tk *taker) precheck(ctx context.Context, progress func(string)) error {
	opts, dir := tk.opts, tk.opts.Dir
	tk.t = now(opts.Now)
	tk.b = &Backup{Dir: dir, Timestamp: Timestamp(tk.t), PossiblyDirty: opts.Force}
	tk.info, tk.rr, tk.sr = nil, nil, nil
	if opts.Force {
		tk.warn("Force: ClusterOperators not checked; files marked %s", DirtyMarker)
	} else {
		progress("checking that no control-plane operator is progressing")
		if err := CheckOperators(ctx, tk.deps.Config); err != nil {
			return err
		}
	}
	if tk.deps.Config == nil {
		tk.warn("no Kubernetes API client: cluster version, proxy and encryption not recorded, certificate rotation not checked")
	} else {
		progress("reading cluster version, proxy and encryption settings")
		info, err := ReadClusterInfo(ctx, tk.deps.Config)
		if err != nil {
			if !opts.Force {
				return err
			}
			tk.warn("cluster information unavailable, not recorded: %v", err)
			info = nil
		}
		tk.info = info
	}
	if info := tk.info; info != nil {
		tk.b.Proxy = info.Proxy
		tk.b.ClusterVersion = info.Version
		if info.Proxy.Enabled() {
			tk.log.Info("cluster-wide proxy enabled; export HTTP_PROXY, HTTPS_PROXY and NO_PROXY for commands on the master")
		}
		if opts.MinClusterAge >= 0 {
			if err := CheckCertificateRotation(info, tk.t, opts.MinClusterAge); err != nil {
				return err
			}
		}
	}
	st, err := chooseMember(ctx, tk.deps.Etcd, opts.Endpoint, opts.Snapshot.StatusTimeout, tk.log)
	if err != nil {
		return &SnapshotError{Op: "status", Err: err}
	}
	tk.st = st
	progress(fmt.Sprintf("checking free space in %s for a %s database", dir, humanBytes(uint64(st.resp.DbSize))))
	return CheckFreeSpace(dir, st.resp.DbSize, opts.FreeSpace)
}

func (tk *taker) resources(ctx context.Context, progress func(string)) error {
	if err := os.MkdirAll(tk.opts.Dir, 0o700); err != nil {
		return err
	}
	rr, err := ArchiveStaticResources(ctx, tk.deps.Host, tk.opts.Dir, ResourcesOptions{
		Name:      ResourcesFileName(tk.b.Timestamp, tk.opts.Force),
		ConfigDir: tk.opts.ConfigDir,
		Logger:    tk.log,
	})
	if err != nil {
		return fmt.Errorf("archiving static pod resources: %w", err)
	}
	for _, c := range rr.Fallbacks {
		tk.warn("%s: manifest missing, archived the highest revision on disk instead of the live one", c)
	}
	for _, rd := range rr.Dirs {
		progress(fmt.Sprintf("found latest %s-pod: %s", rd.Component, rd.Path))
	}
	tk.rr = rr
	tk.b.Resources = BackupFile{Name: filepath.Base(rr.Path), Path: rr.Path, Size: rr.Size, SHA256: rr.SHA256}
	tk.b.ResourceDirs = rr.Dirs
	return nil
}

func (tk *taker) snapshot(ctx context.Context, progress func(string)) error {
	sopts := tk.opts.Snapshot
	sopts.Name = SnapshotFileName(tk.b.Timestamp, tk.opts.Force)
	sopts.Endpoint = tk.st.member.Endpoint
	sopts.Logger = tk.log
	progress("saving snapshot from " + tk.st.member.Endpoint)
	sr, err := Snapshot(ctx, tk.deps.Etcd, tk.opts.Dir, sopts)
	if err != nil {
		if rerr := os.Remove(tk.rr.Path); rerr != nil {
			tk.log.Error("removing the archive of a failed backup", "path", tk.rr.Path, "err", rerr)
		}
		return err
	}
	tk.sr = sr
	tk.b.Snapshot = BackupFile{Name: filepath.Base(sr.Path), Path: sr.Path, Size: sr.Size, SHA256: sr.SHA256}
	tk.b.Revision = sr.Revision
	tk.b.EtcdVersion = sr.EtcdVersion
	return nil
}

func (tk *taker) manifest(ctx context.Context, progress func(string)) error {
	b, sr, rr, dir := tk.b, tk.sr, tk.rr, tk.opts.Dir
	m := &Manifest{
		Format:            ManifestFormat,
		Timestamp:         b.Timestamp,
		CreatedAt:         tk.t.UTC(),
		PossiblyDirty:     tk.opts.Force,
		EtcdVersion:       sr.EtcdVersion,
		EtcdServerVersion: sr.ServerVersion,
		Revision:          sr.Revision,
		DBSize:            sr.DBSize,
		Member:            sr.Member,
		LifeboatVersion:   Version(),
		Snapshot:          ManifestFile{Name: b.Snapshot.Name, Size: sr.Size, SHA256: sr.SHA256, DBSHA256: sr.DBSHA256},
		Resources:         ManifestFile{Name: b.Resources.Name, Size: rr.Size, SHA256: rr.SHA256},
		ResourceDirs:      rr.Dirs,
	}
	if info := tk.info; info != nil {
		m.ClusterVersion = info.Version
		m.Encryption = info.Encryption
		m.EncryptionEnabled = info.EncryptionEnabled()
		if m.EncryptionEnabled {
			tk.warn("etcd encryption (%s) is on: %s holds the keys; store it apart from the snapshot", info.Encryption, b.Resources.Name)
		}
	}
	progress("writing " + ManifestFileName)
	if err := WriteManifest(dir, m); err != nil {
		// The two files are the backup; the manifest is an addition.
		tk.warn("writing %s: %v", ManifestFileName, err)
	} else {
		b.Manifest = m
	}
	if others := scriptGlobOthers(dir, b.Snapshot.Name, b.Resources.Name); len(others) > 0 {
		tk.warn("%s also holds %s, which cluster-restore.sh's %s / %s globs match: the script takes the last match in version order, "+
			"so give it this backup in a directory of its own", dir, strings.Join(others, ", "), ScriptSnapshotGlob, ScriptResourcesGlob)
	}
	tk.log.Info("snapshot db and kube resources are successfully saved", "dir", dir, "snapshot", b.Snapshot.Name, "resources", b.Resources.Name)
	if tk.opts.Result != nil {
		*tk.opts.Result = *b
	}
	return nil
}
