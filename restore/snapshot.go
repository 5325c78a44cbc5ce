package restore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
)

// SnapshotOptions configures RestoreSnapshot. Name and PeerURL are
// required; every other zero value is documented on its field.
type SnapshotOptions struct {
	// Name is the member name of the restored single-member cluster (the
	// node name on OpenShift). Required.
	Name string
	// PeerURL is the member's peer URL ("https://10.0.0.3:2380"). Required.
	PeerURL string
	// InitialClusterToken identifies the new cluster; "" gives a fresh
	// "openshift-etcd-<random>" token, so the restored cluster never talks
	// with a member of the old one.
	InitialClusterToken string

	// RevisionBump is added to the snapshot's latest revision, and that
	// revision is marked compacted, so that watchers and caches of the old
	// cluster see their revisions as compacted instead of being served
	// stale objects. 0 sizes it automatically: from RevisionFile when it
	// exists (RevisionBumpFor), else DefaultRevisionBump.
	RevisionBump uint64
	// NoRevisionBump restores without bumping or compacting (what
	// cluster-restore.sh does with ETCD_ETCDCTL_RESTORE).
	NoRevisionBump bool
	// RevisionFile is the local path of a revision.json to size the bump;
	// "" or a missing file means unknown.
	RevisionFile string

	// SkipHashCheck accepts a snapshot without a sha256 trailer (a db file
	// copied from a data directory). A snapshot with a trailer is always
	// checked.
	SkipHashCheck bool

	// ClusterVersion and BackupVersion are OpenShift versions ("4.5.2");
	// when both are set and differ in z-stream the restore is refused with
	// a *VersionMismatchError unless AllowVersionMismatch.
	ClusterVersion       string
	BackupVersion        string
	AllowVersionMismatch bool
	// ClusterEtcdVersion is the etcd version the cluster runs ("3.5.9"),
	// compared with the snapshot's storage version by Decide; "" lets the
	// snapshot's storage version stand for it.
	ClusterEtcdVersion string
	// ForceInProcess restores in process even when Decide says RestorePod.
	ForceInProcess bool

	// Logger receives progress records; nil discards them.
	Logger *slog.Logger
}

// SnapshotResult describes a finished restore.
type SnapshotResult struct {
	DataDir  string
	Snapshot SnapshotInfo
	Decision Decision
	// ClusterToken is the initial cluster token of the new cluster.
	ClusterToken string
	// RevisionBump is what was added (0 with NoRevisionBump); NewRevision
	// is the snapshot's revision plus the bump, the revision marked
	// compacted.
	RevisionBump uint64
	NewRevision  int64
	Duration     time.Duration
}

// RestoreSnapshot turns the etcd snapshot at snapshotPath into the data
// directory dataDir of a new single-member cluster, in process with etcd's
// etcdutl library (the same code as "etcdutl snapshot restore").
//
// Before anything is written it refuses a non-empty dataDir
// (*TargetNotEmptyError), checks the snapshot's sha256 trailer in one
// streaming pass (*SnapshotError), the z-stream of the backup
// (*VersionMismatchError) and the storage version against the cluster's
// etcd (*NeedsRestorePodError, ErrSnapshotTooNew). Then it restores into a
// temporary directory beside dataDir and renames it into place, so dataDir
// either stays as it was or holds the whole restored member. The sha256
// is not computed a second time by etcdutl.
//
// etcdutl's restore cannot be interrupted: ctx is checked between phases.
func RestoreSnapshot(ctx context.Context, snapshotPath, dataDir string, opts SnapshotOptions) (*SnapshotResult, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Name == "" || opts.PeerURL == "" {
		return nil, fmt.Errorf("%w: Name and PeerURL are required", ErrInvalidOptions)
	}
	if u, err := url.Parse(opts.PeerURL); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("%w: peer URL %q", ErrInvalidOptions, opts.PeerURL)
	}
	dataDir = filepath.Clean(dataDir)
	if err := checkEmptyTarget(dataDir); err != nil {
		return nil, err
	}
	if err := CheckVersions(opts.BackupVersion, opts.ClusterVersion); err != nil && !opts.AllowVersionMismatch {
		return nil, err
	} else if err != nil {
		log.Warn("restoring a backup from another z-stream as requested", "backup", opts.BackupVersion, "cluster", opts.ClusterVersion)
	}

	log.Info("checking snapshot", "path", snapshotPath)
	info, err := verifySnapshot(ctx, snapshotPath, opts.SkipHashCheck)
	if err != nil {
		return nil, err
	}
	res := &SnapshotResult{DataDir: dataDir, Snapshot: info}
	res.Decision, err = Decide(info.StorageVersion, opts.ClusterEtcdVersion)
	if err != nil {
		return nil, err
	}
	if res.Decision.Method != InProcess {
		if !opts.ForceInProcess {
			return nil, &NeedsRestorePodError{Decision: res.Decision}
		}
		log.Warn("restoring in process against the version decision", "reason", res.Decision.Reason)
	}

	if !opts.NoRevisionBump {
		res.RevisionBump = opts.RevisionBump
		if res.RevisionBump == 0 {
			var maxRaft uint64
			if opts.RevisionFile != "" {
				b, err := os.ReadFile(opts.RevisionFile)
				switch {
				case err == nil:
					rec, err := ParseRevisionJSON(b)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", opts.RevisionFile, err)
					}
					maxRaft = rec.MaxRaftIndex
				case errors.Is(err, fs.ErrNotExist):
				default:
					return nil, err
				}
			}
			res.RevisionBump = RevisionBumpFor(maxRaft, info.Revision)
		}
		res.NewRevision = info.Revision + int64(res.RevisionBump)
	} else {
		res.NewRevision = info.Revision
	}
	res.ClusterToken = opts.InitialClusterToken
	if res.ClusterToken == "" {
		res.ClusterToken = "openshift-etcd-" + randomHex(8)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	parent := filepath.Dir(dataDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	tmp := filepath.Join(parent, "."+filepath.Base(dataDir)+".restore-"+randomHex(4))
	log.Info("restoring snapshot", "snapshot", snapshotPath, "dir", tmp, "member", opts.Name,
		"revision", info.Revision, "bump", res.RevisionBump)
	cfg := snapshot.RestoreConfig{
		SnapshotPath:        snapshotPath,
		Name:                opts.Name,
		OutputDataDir:       tmp,
		PeerURLs:            []string{opts.PeerURL},
		InitialCluster:      opts.Name + "=" + opts.PeerURL,
		InitialClusterToken: res.ClusterToken,
		// The trailer was checked above; etcdutl still strips it.
		SkipHashCheck: true,
		RevisionBump:  res.RevisionBump,
		MarkCompacted: res.RevisionBump > 0,
	}
	if err := snapshot.NewV3(zap.NewNop()).Restore(cfg); err != nil {
		os.RemoveAll(tmp) // our own partial output
		return nil, fmt.Errorf("restoring snapshot %s: %w", snapshotPath, err)
	}
	if err := ctx.Err(); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := moveIntoPlace(tmp, dataDir); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("moving restored data into %s: %w", dataDir, err)
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return nil, err
	}
	res.Duration = time.Since(start)
	log.Info("restored snapshot", "dir", dataDir, "new-revision", res.NewRevision, "duration", res.Duration)
	return res, nil
}

// moveIntoPlace renames tmp to dataDir, or, when dataDir is an existing
// (empty) directory, renames tmp's entries ("member") into it and removes
// tmp, keeping dataDir's own mode, owner and labels.
func moveIntoPlace(tmp, dataDir string) error {
	if _, err := os.Lstat(dataDir); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(tmp, dataDir)
	}
	if err := checkEmptyTarget(dataDir); err != nil {
		return err
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(dataDir, e.Name())); err != nil {
			return err
		}
	}
	if err := atomicfile.SyncDir(dataDir); err != nil {
		return err
	}
	return os.Remove(tmp)
}

// checkEmptyTarget accepts a missing directory or an empty one.
func checkEmptyTarget(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &TargetNotEmptyError{Dir: dir, Entries: []string{"(not a directory)"}}
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(5)
	if err != nil && err != io.EOF {
		return err
	}
	if len(names) > 0 {
		return &TargetNotEmptyError{Dir: dir, Entries: names}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
