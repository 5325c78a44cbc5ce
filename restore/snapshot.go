package restore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
)

// SnapshotOptions configures RestoreSnapshot. Writer, Name and PeerURL
// are required; every other zero value is documented on its field.
type SnapshotOptions struct {
	// Writer writes the data directory in process: inprocess.WriteDataDir
	// (package restore/inprocess, etcd's etcdutl library). Required.
	Writer DataDirWriter
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
	// exists (the gap between its maxRaftIndex and the snapshot's
	// consistent index, plus slack, at least 1.2 × maxRaftIndex), else one
	// billion.
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
	DataDir string
	// Snapshot is the snapshot as checked before the restore.
	Snapshot backup.SnapshotInfo
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
// directory dataDir of a new single-member cluster, in process with
// opts.Writer (inprocess.WriteDataDir: etcd's etcdutl library, the same code
// as "etcdutl snapshot restore").
//
// Before anything is written it refuses a dataDir that is not a directory
// or holds anything but "lost+found" (*TargetNotEmptyError; a fresh ext4
// mount holds that), the z-stream of the backup (*VersionMismatchError), a
// snapshot whose size is neither a database nor a database plus etcd's
// sha256 trailer (*SnapshotError), and a storage version the cluster's etcd
// cannot read (*NeedsRestorePodError, ErrSnapshotTooNew). The sha256
// trailer is checked by etcdutl in the pass that copies the database, so the
// snapshot is not read once more before it; a mismatch is reported as a
// *SnapshotError wrapping ErrHashMismatch and leaves nothing behind.
//
// The restore is staged on dataDir's own filesystem, so it works when
// dataDir is a mount point ("/var/lib/etcd" on its own disk): inside dataDir
// when it exists, else beside it in its parent; the result is renamed into
// place, so dataDir either stays as it was or holds the whole restored
// member. A staging directory a crashed earlier call left in dataDir is
// removed.
//
// etcdutl's restore cannot be interrupted: ctx is checked between phases.
func RestoreSnapshot(ctx context.Context, snapshotPath, dataDir string, opts SnapshotOptions) (*SnapshotResult, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Name == "" {
		return nil, opterr.Nil("restore.SnapshotOptions.Name")
	}
	if opts.PeerURL == "" {
		return nil, opterr.Nil("restore.SnapshotOptions.PeerURL")
	}
	if opts.Writer == nil {
		return nil, opterr.New("restore.SnapshotOptions.Writer", "is required (inprocess.WriteDataDir)")
	}
	if u, err := url.Parse(opts.PeerURL); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, opterr.New("restore.SnapshotOptions.PeerURL", "%q is not an absolute URL with a host", opts.PeerURL)
	}
	dataDir = filepath.Clean(dataDir)
	if err := checkEmptyTarget(dataDir); err != nil {
		return nil, err
	}
	if err := checkVersions(opts.BackupVersion, opts.ClusterVersion); err != nil && !opts.AllowVersionMismatch {
		return nil, err
	} else if err != nil {
		log.Warn("restoring a backup from another z-stream as requested", "backup", opts.BackupVersion, "cluster", opts.ClusterVersion)
	}

	log.Info("checking snapshot", "path", snapshotPath)
	info, trailer, err := inspectSnapshot(ctx, snapshotPath, opts.SkipHashCheck)
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
		if res.RevisionBump, err = snapshotBump(info.ConsistentIndex, opts); err != nil {
			return nil, err
		}
	}
	res.NewRevision = info.Revision + int64(res.RevisionBump)
	res.ClusterToken = opts.InitialClusterToken
	if res.ClusterToken == "" {
		res.ClusterToken = "openshift-etcd-" + randomHex(8)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	stage, err := stagingDir(dataDir)
	if err != nil {
		return nil, fmt.Errorf("staging the restore of %s: %w", dataDir, err)
	}
	log.Info("restoring snapshot", "snapshot", snapshotPath, "dir", stage, "member", opts.Name,
		"revision", info.Revision, "bump", res.RevisionBump)
	spec := DataDirSpec{
		SnapshotPath: snapshotPath,
		OutputDir:    stage,
		Name:         opts.Name,
		PeerURL:      opts.PeerURL,
		ClusterToken: res.ClusterToken,
		// etcdutl checks the trailer while it copies the database; a
		// snapshot without one was accepted above (SkipHashCheck).
		SkipHashCheck: !info.HasHash,
		RevisionBump:  res.RevisionBump,
	}
	if err := opts.Writer(ctx, spec); err != nil {
		os.RemoveAll(stage) // our own partial output
		if info.HasHash {
			// Say why in lifeboat's terms: etcdutl's error is text.
			if _, herr := verifySnapshot(ctx, snapshotPath, false); herr != nil {
				return nil, herr
			}
		}
		return nil, fmt.Errorf("restoring snapshot %s: %w", snapshotPath, err)
	}
	if info.HasHash {
		info.SHA256 = hex.EncodeToString(trailer) // etcdutl found the data equal to it
		res.Snapshot = info
	}
	if err := ctx.Err(); err != nil {
		os.RemoveAll(stage)
		return nil, err
	}
	if err := moveIntoPlace(stage, dataDir); err != nil {
		os.RemoveAll(stage)
		return nil, fmt.Errorf("moving restored data into %s: %w", dataDir, err)
	}
	res.Duration = time.Since(start)
	log.Info("restored snapshot", "dir", dataDir, "new-revision", res.NewRevision, "duration", res.Duration)
	return res, nil
}

// inspectSnapshot checks the snapshot without hashing it: its size is a
// database or a database plus etcd's sha256 trailer, and its database
// passes lifeboat's structure check (backup.CheckSnapshotDatabase: the
// tree pages, not the whole file, and no input makes it panic), which
// gives the revision, storage version and consistent index. It returns
// the trailer when the file has one (nil otherwise); the trailer itself is
// checked by etcdutl in the pass that copies the database. A snapshot
// without a trailer (SkipHashCheck) is verified here in full, since
// nothing checks it later.
func inspectSnapshot(ctx context.Context, path string, allowNoHash bool) (snapshotInfo, []byte, error) {
	info := snapshotInfo{Path: path}
	fail := func(err error) (snapshotInfo, []byte, error) {
		return info, nil, &backup.SnapshotError{Op: "check", Path: path, Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("%w: not a regular file", backup.ErrCorruptDatabase))
	}
	info.Size = fi.Size()
	// A bolt database is a whole number of 512-byte multiples; etcd
	// appends 32 bytes of sha256.
	info.HasHash = info.Size%512 == sha256.Size
	if !info.HasHash {
		v, err := verifySnapshot(ctx, path, allowNoHash)
		return v, nil, err
	}
	trailer := make([]byte, sha256.Size)
	if _, err := f.ReadAt(trailer, info.Size-sha256.Size); err != nil {
		return fail(fmt.Errorf("%w: reading trailer: %v", backup.ErrTruncated, err))
	}
	if err := backup.CheckSnapshotDatabase(ctx, path, &info); err != nil {
		if ctx.Err() != nil {
			return info, nil, ctx.Err()
		}
		// A hash mismatch says more than "corrupt" (a truncated copy, a
		// changed file): report it when the hash does not match either.
		if _, herr := verifySnapshot(ctx, path, false); herr != nil {
			return info, nil, herr
		}
		return fail(err)
	}
	return info, trailer, nil
}

// snapshotBump is the revision bump for the snapshot at path: the caller's
// RevisionBump, else revisionBumpFor from the maxRaftIndex of RevisionFile
// (0 when it is not set or missing) and the snapshot's consistent index
// (ci, read by the database check).
func snapshotBump(ci uint64, opts SnapshotOptions) (uint64, error) {
	if opts.RevisionBump > 0 {
		return opts.RevisionBump, nil
	}
	var maxRaft uint64
	if opts.RevisionFile != "" {
		b, err := os.ReadFile(opts.RevisionFile)
		switch {
		case err == nil:
			rec, err := parseRevisionJSON(b)
			if err != nil {
				return 0, fmt.Errorf("%s: %w", opts.RevisionFile, err)
			}
			maxRaft = rec.MaxRaftIndex
		case errors.Is(err, fs.ErrNotExist):
		default:
			return 0, fmt.Errorf("reading %s: %w", opts.RevisionFile, err)
		}
	}
	return revisionBumpFor(maxRaft, ci), nil
}

// stagePrefix names the staging directories RestoreSnapshot creates inside
// the target; lostFound is what mkfs leaves at the root of an ext4 mount.
const (
	stagePrefix = ".lifeboat-restore-"
	lostFound   = "lost+found"
)

// stagingDir picks where etcdutl writes the restored member: inside dataDir
// when it exists (so a dataDir that is a mount point keeps everything on its
// own filesystem), else beside it in its parent, where dataDir will be
// created. Staging directories an interrupted earlier call left inside
// dataDir are removed first. The directory returned does not exist yet.
func stagingDir(dataDir string) (string, error) {
	if _, err := os.Lstat(dataDir); errors.Is(err, fs.ErrNotExist) {
		parent := filepath.Dir(dataDir)
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", err
		}
		return filepath.Join(parent, "."+filepath.Base(dataDir)+stagePrefix+randomHex(4)), nil
	} else if err != nil {
		return "", err
	}
	names, err := readNames(dataDir)
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if strings.HasPrefix(n, stagePrefix) {
			if err := os.RemoveAll(filepath.Join(dataDir, n)); err != nil {
				return "", fmt.Errorf("removing an earlier staging directory: %w", err)
			}
		}
	}
	return filepath.Join(dataDir, stagePrefix+randomHex(4)), nil
}

// moveIntoPlace renames stage to dataDir, or, when dataDir is an existing
// directory (empty but for lost+found and stage itself), renames stage's
// entries ("member") into it and removes stage, keeping dataDir's own mode,
// owner, labels and mount. Both are on one filesystem (stagingDir), so no
// rename crosses a mount; the directories are synced after.
func moveIntoPlace(stage, dataDir string) error {
	if _, err := os.Lstat(dataDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(stage, dataDir); err != nil {
			return err
		}
		return atomicfile.SyncDir(filepath.Dir(dataDir))
	}
	if err := checkEmptyTarget(dataDir); err != nil {
		return err
	}
	entries, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(dataDir, e.Name())); err != nil {
			return err
		}
	}
	if err := os.Remove(stage); err != nil {
		return err
	}
	return atomicfile.SyncDir(dataDir)
}

// checkEmptyTarget accepts a missing directory or one that holds nothing
// but lost+found (a directory) and staging directories of an earlier call.
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
	names, err := readNames(dir)
	if err != nil {
		return err
	}
	var other []string
	for _, n := range names {
		if strings.HasPrefix(n, stagePrefix) {
			continue
		}
		if n == lostFound {
			if fi, err := os.Lstat(filepath.Join(dir, n)); err == nil && fi.IsDir() {
				continue
			}
		}
		if other = append(other, n); len(other) == 5 {
			break
		}
	}
	if len(other) > 0 {
		return &TargetNotEmptyError{Dir: dir, Entries: other}
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
