package backup

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// ErrBackupRoot: the directory given as a backup holds no backup files but
// folders of the cluster's automated backups (a PVC root or
// /var/lib/etcd-auto-backup): verify or restore one of the folders;
// [LatestFolder] picks the newest.
var ErrBackupRoot = errors.New("directory holds backup folders, not a backup")

// Folder is one automated backup folder found in a root directory (see
// AutomatedBackupHostDir for the layouts).
type Folder struct {
	// Name is the folder's base name ("backup-nightly-2026-11-30_020000"
	// or "2026-11-30_020000").
	Name string
	// Path is root/Name, as the root was given.
	Path string
	// BackupName is the EtcdBackup's name; "" for an etcd-backup-server
	// folder.
	BackupName string
	// Timestamp is the folder name's stamp (TimestampLayout).
	Timestamp string
	// Time is Timestamp read as UTC (the operator's pods run in UTC).
	Time time.Time
}

// FolderOptions configure Folders and LatestFolder. The zero value lists
// every automated backup folder.
type FolderOptions struct {
	// BackupName keeps only the folders of this EtcdBackup name ("" keeps
	// all, etcd-backup-server folders included).
	BackupName string
}

// Folders lists the automated backup folders in the local directory root,
// oldest first; it is FoldersOn with this machine as the host.
func Folders(ctx context.Context, root string, opts FolderOptions) ([]Folder, error) {
	list, err := FoldersOn(ctx, localHost(), absSlash(root), opts)
	for i := range list {
		list[i].Path = filepath.Join(root, list[i].Name)
	}
	return list, err
}

// FoldersOn lists the automated backup folders in the directory root of
// h, oldest first (by their stamp, then by name). Entries of other names,
// and files, are ignored; it reads nothing inside the folders (Verify
// does), so a folder of an interrupted run is listed too. An unreadable
// root is an error wrapping ErrMissingFile.
func FoldersOn(ctx context.Context, h host.Host, root string, opts FolderOptions) ([]Folder, error) {
	if h == nil {
		return nil, opterr.Nil("backup.FoldersOn h")
	}
	entries, err := h.ReadDir(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("listing backup folders in %s on %s: %w: %w", root, h.Name(), ErrMissingFile, err)
	}
	var out []Folder
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		name, stamp, ok := parseFolder(e.Name)
		if !ok || (opts.BackupName != "" && name != opts.BackupName) {
			continue
		}
		t, err := time.Parse(TimestampLayout, stamp)
		if err != nil { // a stamp of the right shape but no date (month 13)
			continue
		}
		out = append(out, Folder{Name: e.Name, Path: path.Join(root, e.Name), BackupName: name, Timestamp: stamp, Time: t})
	}
	slices.SortFunc(out, func(a, b Folder) int {
		if c := strings.Compare(a.Timestamp, b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// LatestFolder is LatestFolderOn with this machine as the host.
func LatestFolder(ctx context.Context, root string, opts FolderOptions) (Folder, error) {
	f, err := LatestFolderOn(ctx, localHost(), absSlash(root), opts)
	if f.Name != "" {
		f.Path = filepath.Join(root, f.Name)
	}
	return f, err
}

// LatestFolderOn returns the newest automated backup folder in root on h,
// by the stamp in its name (never by modification time, which a copy
// changes). Two folders with the newest stamp (two EtcdBackups requested
// in the same second) are refused with an error wrapping ErrAmbiguous that
// names both: choose with FolderOptions.BackupName. No folder at all is an
// error wrapping ErrMissingFile.
//
// The newest folder may be the remains of a run that failed or is still
// running: Verify it before restoring it, and fall back to an older one
// (Folders) if it fails.
func LatestFolderOn(ctx context.Context, h host.Host, root string, opts FolderOptions) (Folder, error) {
	if h == nil {
		return Folder{}, opterr.Nil("backup.LatestFolderOn h")
	}
	list, err := FoldersOn(ctx, h, root, opts)
	if err != nil {
		return Folder{}, err
	}
	if len(list) == 0 {
		return Folder{}, fmt.Errorf("%w: no automated backup folder (%s<name>-<timestamp> or <timestamp>) in %s on %s",
			ErrMissingFile, automatedBackupPrefix, root, h.Name())
	}
	newest := list[len(list)-1]
	var tied []string
	for _, f := range list {
		if f.Timestamp == newest.Timestamp {
			tied = append(tied, f.Name)
		}
	}
	if len(tied) > 1 {
		return Folder{}, fmt.Errorf("%w: %s in %s on %s are equally new; choose one with FolderOptions.BackupName",
			ErrAmbiguous, strings.Join(tied, ", "), root, h.Name())
	}
	return newest, nil
}

func localHost() host.Host { return host.NewLocal("local", "/", host.LocalOptions{}) }

func absSlash(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return filepath.ToSlash(p)
}
