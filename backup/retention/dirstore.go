package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// DirStore is a Store over a local directory that holds one subdirectory
// per backup, each what backup.TakePlan wrote (snapshot_<stamp>.db,
// static_kuberesources_<stamp>.tar.gz and backup.json). Only
// subdirectories with a readable backup.json are lifeboat's backups:
// files, symbolic links, hidden entries ("." prefix) and directories
// without a manifest (cluster-backup.sh output, other tools' data) are
// never listed, so never deleted.
//
// Build it with NewDirStore: a DirStore that was not (its zero value, a
// nil *DirStore) refuses every List and Delete with a
// *lifeboat.OptionsError naming "retention.DirStore", before anything
// is read or deleted.
type DirStore struct {
	root string
	opts DirStoreOptions
}

// DirStoreOptions configure a DirStore. The zero value checks backups
// quickly and logs nothing.
type DirStoreOptions struct {
	// Verify decides whether the backup in dir, described by m, is
	// verified. nil means QuickCheck; VerifyFull reads every byte.
	Verify func(ctx context.Context, dir string, m *backup.Manifest) error
	// Logger receives what List skipped and why; nil discards.
	Logger *slog.Logger
}

// NewDirStore returns a DirStore over root, which must be an existing
// directory: otherwise the error wraps os.Stat's (fs.ErrNotExist for a
// missing root) or fs.ErrInvalid when root is not a directory; an empty
// root is a *lifeboat.OptionsError. It reads nothing else.
func NewDirStore(root string, opts DirStoreOptions) (*DirStore, error) {
	if root == "" {
		return nil, opterr.Nil("retention.NewDirStore root")
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("retention: backup directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("retention: backup directory %s is not a directory: %w", root, fs.ErrInvalid)
	}
	if opts.Verify == nil {
		opts.Verify = QuickCheck
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &DirStore{root: root, opts: opts}, nil
}

// check refuses a DirStore that NewDirStore did not build: List and
// Delete call it first, so that the zero value never reads nor deletes
// relative to the working directory.
func (s *DirStore) check() error {
	if s == nil || s.root == "" || s.opts.Verify == nil || s.opts.Logger == nil {
		return opterr.New("retention.DirStore", "has no backup directory: build it with NewDirStore")
	}
	return nil
}

// Dir returns the directory of the backup id; "" for a DirStore that
// NewDirStore did not build.
func (s *DirStore) Dir(id string) string {
	if s.check() != nil {
		return ""
	}
	return filepath.Join(s.root, id)
}

// List returns the backups under the root: ID is the subdirectory's name,
// Taken the manifest's createdAt, Verified whether opts.Verify passed.
// A manifest that cannot be parsed leaves its directory out (logged): it
// may be lifeboat's, but nothing proves it. A DirStore NewDirStore did
// not build is a *lifeboat.OptionsError.
func (s *DirStore) List(ctx context.Context) ([]Backup, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listing %s: %w", s.root, err)
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", s.root, err)
	}
	var bs []Backup
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		dir := filepath.Join(s.root, e.Name())
		m, err := backup.ReadManifest(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			s.opts.Logger.Warn("not a backup this lifeboat reads; left alone", "dir", dir, "err", err)
			continue
		}
		b := Backup{ID: e.Name(), Taken: m.CreatedAt}
		if err := s.opts.Verify(ctx, dir, m); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s.opts.Logger.Warn("backup not verified", "dir", dir, "err", err)
		} else {
			b.Verified = true
		}
		bs = append(bs, b)
	}
	return bs, nil
}

// ErrNotBackup: Store.Delete refused an ID that cannot name one of
// lifeboat's backups in the store (a path, a hidden name, a file, a
// directory without a manifest; for backup/offsite, anything but a backup
// stamp), and deleted nothing. It guards what is not lifeboat's, so it is
// distinct from ErrNotFound (nothing there) and from backup's errors about
// a backup's content.
var ErrNotBackup = errors.New("not one of lifeboat's backups: refused to delete")

// trashPrefix names a backup directory being deleted: hidden, so List
// skips it from the moment of the rename.
const trashPrefix = ".deleting-"

// Delete removes the backup directory id: it is first renamed to a hidden
// name in the same directory (atomic: List stops reporting it at once),
// then removed. An absent id wraps ErrNotFound; an id that is not a
// listed backup's name wraps ErrNotBackup. A DirStore NewDirStore did
// not build is a *lifeboat.OptionsError, and nothing is deleted.
func (s *DirStore) Delete(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if id == "" || id == "." || id == ".." || strings.HasPrefix(id, ".") || strings.ContainsAny(id, `/\`) || filepath.Base(id) != id {
		return fmt.Errorf("deleting backup %q: %w: not a directory name", id, ErrNotBackup)
	}
	dir := s.Dir(id)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting backup %s: %w", dir, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("deleting backup %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("deleting backup %s: %w: not a directory", dir, ErrNotBackup)
	}
	if _, err := backup.ReadManifest(dir); err != nil {
		return fmt.Errorf("deleting backup %s: %w: %w", dir, ErrNotBackup, err)
	}
	trash := filepath.Join(s.root, trashPrefix+id)
	// The remains of an interrupted deletion of the same ID.
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("deleting backup %s: clearing %s: %w", dir, trash, err)
	}
	if err := os.Rename(dir, trash); err != nil {
		return fmt.Errorf("deleting backup %s: %w", dir, err)
	}
	syncDir(s.root)
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("deleting backup %s: removing %s: %w", dir, trash, err)
	}
	return nil
}

// syncDir makes a rename in dir durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// QuickCheck is DirStore's default verification: the manifest names two
// plain files in dir, both regular files of the sizes it records. It reads
// no content; VerifyFull does. A nil m is a *lifeboat.OptionsError.
func QuickCheck(ctx context.Context, dir string, m *backup.Manifest) error {
	if m == nil {
		return opterr.Nil("retention.QuickCheck m")
	}
	for _, f := range []backup.ManifestFile{m.Snapshot, m.Resources} {
		if f.Name == "" || filepath.Base(f.Name) != f.Name || strings.HasPrefix(f.Name, ".") {
			return fmt.Errorf("%s: manifest names file %q", dir, f.Name)
		}
		fi, err := os.Lstat(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() || fi.Size() != f.Size {
			return fmt.Errorf("%s: %s is %d bytes (%s), manifest records %d", dir, f.Name, fi.Size(), fi.Mode().Type(), f.Size)
		}
	}
	return nil
}

// VerifyFull verifies the backup with backup.Verify (every byte read,
// sha256s and the bolt database checked): as sure as it gets, and as slow
// as reading every backup. A nil m is a *lifeboat.OptionsError.
func VerifyFull(ctx context.Context, dir string, m *backup.Manifest) error {
	if m == nil {
		return opterr.Nil("retention.VerifyFull m")
	}
	_, err := backup.Verify(ctx, dir, backup.VerifyOptions{Timestamp: m.Timestamp})
	return err
}

var _ Store = (*DirStore)(nil)
