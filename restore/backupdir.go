package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/safetar"
)

// ErrBackupIncomplete: the backup directory lacks the snapshot or the
// static pod resources archive, or the archive lacks a component.
var ErrBackupIncomplete = errors.New("backup incomplete")

var (
	snapshotRE = regexp.MustCompile(`^snapshot_(\d{4}-\d{2}-\d{2}_\d{6})(__POSSIBLY_DIRTY__)?\.db$`)
	archiveRE  = regexp.MustCompile(`^static_kuberesources_(\d{4}-\d{2}-\d{2}_\d{6})(__POSSIBLY_DIRTY__)?\.tar\.gz$`)
)

// manifestFields are the parts of lifeboat's backup.json the restore reads.
type manifestFields struct {
	ClusterVersion string `json:"clusterVersion"`
	EtcdVersion    string `json:"etcdVersion"`
	Revision       int64  `json:"revision"`
	Snapshot       struct {
		Name     string `json:"name"`
		DBSHA256 string `json:"dbSHA256"`
	} `json:"snapshot"`
}

// pickBackupFiles chooses the newest snapshot and archive among names, as
// cluster-restore.sh does ("ls -v | tail -1").
func pickBackupFiles(names []string) (snapshot, archive string) {
	sort.Strings(names)
	for _, n := range names {
		if snapshotRE.MatchString(n) {
			snapshot = n
		}
		if archiveRE.MatchString(n) {
			archive = n
		}
	}
	return snapshot, archive
}

// verifyBackupOn checks the backup directory dir on h: both files present,
// the snapshot's sha256 trailer (with its database read when h's files are
// local), the archive's entries (safetar) holding every component's pod
// manifest, and backup.json when there is one. It reads, never writes.
func verifyBackupOn(ctx context.Context, h host.Host, dir string) (*BackupRecord, map[string]int, error) {
	entries, err := h.ReadDir(ctx, dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading backup directory %s on %s: %w", dir, h.Name(), err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name)
		}
	}
	snap, archive := pickBackupFiles(names)
	if snap == "" || archive == "" {
		return nil, nil, fmt.Errorf("%w: %s on %s needs snapshot_<timestamp>.db and static_kuberesources_<timestamp>.tar.gz (found %v)", ErrBackupIncomplete, dir, h.Name(), names)
	}
	rec := &BackupRecord{Dir: dir, Snapshot: snap, Archive: archive}

	var mf manifestFields
	haveManifest := false
	if b, err := h.ReadFile(ctx, path.Join(dir, "backup.json")); err == nil {
		if err := json.Unmarshal(b, &mf); err != nil {
			return nil, nil, fmt.Errorf("backup.json in %s: %w", dir, err)
		}
		// A manifest describing another snapshot is ignored.
		haveManifest = mf.Snapshot.Name == "" || mf.Snapshot.Name == snap
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if haveManifest {
		rec.ClusterVersion, rec.EtcdVersion, rec.Revision = mf.ClusterVersion, mf.EtcdVersion, mf.Revision
	}

	snapPath := path.Join(dir, snap)
	var info SnapshotInfo
	if lp, ok := h.LocalPath(snapPath); ok {
		info, err = VerifySnapshot(ctx, lp, false)
	} else {
		var fi host.FileInfo
		if fi, err = h.Stat(ctx, snapPath); err == nil {
			var rc io.ReadCloser
			if rc, err = h.Open(ctx, snapPath); err == nil {
				info, err = VerifySnapshotStream(ctx, rc, fi.Size, false)
				rc.Close()
				if err != nil {
					err = &SnapshotError{Path: snapPath, Err: err}
				}
			}
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if haveManifest && mf.Snapshot.DBSHA256 != "" && mf.Snapshot.DBSHA256 != info.SHA256 {
		return nil, nil, &SnapshotError{Path: snapPath, Err: fmt.Errorf("%w: backup.json records %s, file has %s", ErrHashMismatch, mf.Snapshot.DBSHA256, info.SHA256)}
	}
	rec.SHA256, rec.StorageVersion = info.SHA256, info.StorageVersion
	if info.Revision > 0 {
		rec.Revision = info.Revision
	}

	archivePath := path.Join(dir, archive)
	rc, err := h.Open(ctx, archivePath)
	if err != nil {
		return nil, nil, err
	}
	ents, err := safetar.Check(ctx, rc, safetar.Options{})
	rc.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("static pod resources archive %s: %w", archivePath, err)
	}
	var entNames []string
	for _, e := range ents {
		entNames = append(entNames, e.Name)
	}
	revs := revisionsInArchive(entNames)
	var missing []string
	for _, c := range startOrder {
		if revs[c] == 0 {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("%w: archive %s holds no static-pod-resources/<component>-pod-N/<component>-pod.yaml for %s", ErrBackupIncomplete, archivePath, strings.Join(missing, ", "))
	}
	return rec, revs, nil
}
