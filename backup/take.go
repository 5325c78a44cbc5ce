package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	configclient "github.com/openshift/client-go/config/clientset/versioned"

	"github.com/lifeboat-dev/lifeboat/host"
)

// TakeOptions configure Take. Host is required, and Config unless Force;
// every other zero value is documented on its field.
type TakeOptions struct {
	// Host is the master whose static pod resources are archived (the
	// runbook's "oc debug node/<master>; chroot /host"). Required.
	Host host.Host
	// Config reads the ClusterOperators, ClusterVersion, Proxy and
	// APIServer objects. Required unless Force, where nil means the
	// cluster information is left out of the manifest.
	Config configclient.Interface
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
	// Progress, when set, is told what Take is doing.
	Progress func(Event)
	// Snapshot tunes the snapshot transfer (BufferSize, WrapWriter,
	// StatusTimeout); Take sets its Name, Endpoint, Now, Logger and
	// Progress.
	Snapshot SnapshotOptions
}

// Event is a progress report of Take.
type Event struct {
	// Step is "precheck", "resources", "snapshot" or "manifest".
	Step    string
	Message string
	// Written is the number of snapshot bytes saved so far (step
	// "snapshot"), and Total the database size it is heading for.
	Written, Total int64
}

// BackupFile is one file of a backup.
type BackupFile struct {
	Name   string
	Path   string
	Size   int64
	SHA256 string
}

// Backup describes a backup directory's snapshot/archive pair: the result
// of Take and Verify.
type Backup struct {
	// Dir is the directory holding the pair, as given to Take or Verify.
	Dir string
	// Timestamp is the pair's stamp, "2006-01-02_150405" (TimestampLayout),
	// without DirtyMarker.
	Timestamp string
	// PossiblyDirty is true when the files carry DirtyMarker in their
	// names: taken with Take's Force or cluster-backup.sh --force, without
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
	// (nil from Take, or when the file could not be read).
	SnapshotInfo *SnapshotInfo
	Archive      *ArchiveInfo
	// Proxy are the cluster-wide proxy settings Take found (export them
	// with Proxy.Env() for anything run on the master).
	Proxy Proxy
	// Warnings are things worth knowing that did not stop the backup
	// (forced checks, fallbacks, unreadable cluster information).
	Warnings []string
}

// Take performs runbook chapter 1, "Backing up etcd data", the way
// cluster-backup.sh does, with checks the script leaves to the reader:
//
//  1. pre-checks, each failure a *PrecheckError naming its fix: the
//     kube-apiserver, kube-controller-manager, kube-scheduler and etcd
//     ClusterOperators are not Progressing (skipped with Force); the
//     cluster is past its first certificate rotation; dir has at least
//     twice the etcd database size free; the cluster-wide proxy settings
//     are read and returned in Backup.Proxy;
//  2. static_kuberesources_<stamp>.tar.gz (see ArchiveStaticResources);
//  3. snapshot_<stamp>.db (see Snapshot), with the same stamp;
//  4. backup.json (see Manifest).
//
// If the snapshot fails, the archive just written is removed, so a failed
// Take leaves no files (as the script's ERR trap does).
func Take(ctx context.Context, etcd SnapshotClient, dir string, opts TakeOptions) (*Backup, error) {
	if opts.Host == nil {
		return nil, errors.New("backup.Take: TakeOptions.Host is required")
	}
	if opts.Config == nil && !opts.Force {
		return nil, errors.New("backup.Take: TakeOptions.Config is required unless Force is set")
	}
	log := logger(opts.Logger)
	progress := func(e Event) {
		if opts.Progress != nil {
			opts.Progress(e)
		}
	}
	t := now(opts.Now)
	stamp := Timestamp(t)
	b := &Backup{Dir: dir, Timestamp: stamp, PossiblyDirty: opts.Force}
	warn := func(msg string, args ...any) {
		b.Warnings = append(b.Warnings, fmt.Sprintf(msg, args...))
		log.Warn(fmt.Sprintf(msg, args...))
	}

	// 1. Pre-checks.
	if opts.Force {
		warn("Force: ClusterOperators not checked; files marked %s", DirtyMarker)
	} else {
		progress(Event{Step: "precheck", Message: "checking that no control-plane operator is progressing"})
		if err := CheckOperators(ctx, opts.Config); err != nil {
			return nil, err
		}
	}
	var info *ClusterInfo
	if opts.Config == nil {
		warn("no Kubernetes API client: cluster version, proxy and encryption not recorded, certificate rotation not checked")
	} else {
		progress(Event{Step: "precheck", Message: "reading cluster version, proxy and encryption settings"})
		var err error
		info, err = ReadClusterInfo(ctx, opts.Config)
		if err != nil {
			if !opts.Force {
				return nil, err
			}
			warn("cluster information unavailable, not recorded: %v", err)
			info = nil
		}
	}
	if info != nil {
		b.Proxy = info.Proxy
		b.ClusterVersion = info.Version
		if info.Proxy.Enabled() {
			log.Info("cluster-wide proxy enabled; export HTTP_PROXY, HTTPS_PROXY and NO_PROXY for commands on the master")
		}
		if opts.MinClusterAge >= 0 {
			if err := CheckCertificateRotation(info, t, opts.MinClusterAge); err != nil {
				return nil, err
			}
		}
	}
	sopts := opts.Snapshot
	st, err := chooseMember(ctx, etcd, opts.Endpoint, sopts.StatusTimeout, log)
	if err != nil {
		return nil, &SnapshotError{Op: "status", Err: err}
	}
	progress(Event{Step: "precheck", Message: fmt.Sprintf("checking free space in %s for a %s database", dir, humanBytes(uint64(st.resp.DbSize)))})
	if err := CheckFreeSpace(dir, st.resp.DbSize, opts.FreeSpace); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}

	// 2. Static pod resources.
	progress(Event{Step: "resources", Message: "archiving the latest static pod resources of " + opts.Host.Name()})
	rr, err := ArchiveStaticResources(ctx, opts.Host, dir, ResourcesOptions{
		Name:      ResourcesFileName(stamp, opts.Force),
		ConfigDir: opts.ConfigDir,
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("archiving static pod resources: %w", err)
	}
	for _, c := range rr.Fallbacks {
		warn("%s: manifest missing, archived the highest revision on disk instead of the live one", c)
	}
	for _, rd := range rr.Dirs {
		progress(Event{Step: "resources", Message: fmt.Sprintf("found latest %s-pod: %s", rd.Component, rd.Path)})
	}
	b.Resources = BackupFile{Name: filepath.Base(rr.Path), Path: rr.Path, Size: rr.Size, SHA256: rr.SHA256}
	b.ResourceDirs = rr.Dirs

	// 3. Snapshot.
	sopts.Name = SnapshotFileName(stamp, opts.Force)
	sopts.Endpoint = st.member.Endpoint
	sopts.Logger = log
	total := st.resp.DbSize
	sopts.Progress = func(n int64) {
		progress(Event{Step: "snapshot", Message: "saving snapshot", Written: n, Total: total})
	}
	progress(Event{Step: "snapshot", Message: "saving snapshot from " + st.member.Endpoint, Total: total})
	sr, err := Snapshot(ctx, etcd, dir, sopts)
	if err != nil {
		if rerr := os.Remove(rr.Path); rerr != nil {
			log.Error("removing the archive of a failed backup", "path", rr.Path, "err", rerr)
		}
		return nil, err
	}
	b.Snapshot = BackupFile{Name: filepath.Base(sr.Path), Path: sr.Path, Size: sr.Size, SHA256: sr.SHA256}
	b.Revision = sr.Revision
	b.EtcdVersion = sr.EtcdVersion

	// 4. Manifest.
	m := &Manifest{
		Format:            ManifestFormat,
		Timestamp:         stamp,
		CreatedAt:         t.UTC(),
		PossiblyDirty:     opts.Force,
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
	if info != nil {
		m.ClusterVersion = info.Version
		m.Encryption = info.Encryption
		m.EncryptionEnabled = info.EncryptionEnabled()
		if m.EncryptionEnabled {
			warn("etcd encryption (%s) is on: %s holds the keys; store it apart from the snapshot", info.Encryption, b.Resources.Name)
		}
	}
	progress(Event{Step: "manifest", Message: "writing " + ManifestFileName})
	if err := WriteManifest(dir, m); err != nil {
		// The two files are the backup; the manifest is an addition.
		warn("writing %s: %v", ManifestFileName, err)
	} else {
		b.Manifest = m
	}
	if others := scriptGlobOthers(dir, b.Snapshot.Name, b.Resources.Name); len(others) > 0 {
		warn("%s also holds %s, which cluster-restore.sh's %s / %s globs match: the script takes the last match in version order, "+
			"so give it this backup in a directory of its own", dir, strings.Join(others, ", "), ScriptSnapshotGlob, ScriptResourcesGlob)
	}
	log.Info("snapshot db and kube resources are successfully saved", "dir", dir, "snapshot", b.Snapshot.Name, "resources", b.Resources.Name)
	return b, nil
}
