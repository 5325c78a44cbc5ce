// Package atomicfile writes files the way a backup must be written: into
// "<name>.part", synced, then renamed into place and the directory synced,
// so a reader never sees a partial file under the final name and a failure
// leaves nothing behind. The part file lies in the final name's directory,
// so the rename never crosses a filesystem, whatever is mounted where (a
// backup directory on its own disk, /var/lib/etcd on its own disk).
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// File is a file being written atomically. Write to it, then Commit or
// Abort. Abort after Commit is a no-op, so `defer f.Abort()` is safe.
type File struct {
	*os.File
	path string
	done bool
}

// Create opens path+".part" for writing with perm, truncating any stale part
// file. The final path is not touched until Commit.
func Create(path string, perm fs.FileMode) (*File, error) {
	f, err := os.OpenFile(path+".part", os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return nil, err
	}
	// OpenFile's perm is filtered by the umask; make the mode exact.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Path is the final path the file gets on Commit.
func (f *File) Path() string { return f.path }

// Commit syncs the part file, renames it to the final path and syncs the
// directory. On error the part file is removed.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: already committed or aborted")
	}
	f.done = true
	part := f.File.Name()
	err := f.File.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, f.path)
	}
	if err != nil {
		os.Remove(part)
		return fmt.Errorf("committing %s: %w", f.path, err)
	}
	return SyncDir(filepath.Dir(f.path))
}

// Abort closes and removes the part file. It is safe to call more than once
// and after Commit.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile writes r to path atomically with perm.
func WriteFile(path string, r io.Reader, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := io.Copy(f, r); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

// SyncDir fsyncs a directory so a rename inside it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
