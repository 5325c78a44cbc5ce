package host

import (
	"io/fs"
	"os"
	"path"
	"strings"
	"time"
)

// hostRel validates an absolute host path and returns it relative to the
// host's root ("." for "/"). It refuses relative paths, NUL bytes and any
// ".." element, so the result never climbs out of the root lexically; the
// symlink side is handled by os.Root.
func hostRel(op, p string) (string, error) {
	if !strings.HasPrefix(p, "/") || strings.IndexByte(p, 0) >= 0 {
		return "", &fs.PathError{Op: op, Path: p, Err: ErrInvalidPath}
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return "", &fs.PathError{Op: op, Path: p, Err: ErrInvalidPath}
		}
	}
	c := path.Clean(p)
	if c == "/" {
		return ".", nil
	}
	return c[1:], nil
}

// fsys is the part of *os.Root the local host uses. Names are relative to
// the host root (as hostRel returns them).
type fsys interface {
	Lstat(name string) (fs.FileInfo, error)
	Open(name string) (*os.File, error)
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	MkdirAll(name string, perm fs.FileMode) error
	Rename(oldname, newname string) error
	Readlink(name string) (string, error)
	Remove(name string) error
	RemoveAll(name string) error
	Symlink(oldname, newname string) error
	Lchown(name string, uid, gid int) error
	Chtimes(name string, atime, mtime time.Time) error
	Close() error
}

var _ fsys = (*os.Root)(nil)

// realFS is the root of the machine itself ("/"). It does not use os.Root
// because os.Root refuses absolute symlinks, which a real host has
// (nothing can escape "/" anyway).
type realFS struct{}

func (realFS) abs(name string) string {
	if name == "." {
		return "/"
	}
	return "/" + name
}

func (r realFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(r.abs(name)) }
func (r realFS) Open(name string) (*os.File, error)     { return os.Open(r.abs(name)) }
func (r realFS) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(r.abs(name), flag, perm)
}
func (r realFS) MkdirAll(name string, perm fs.FileMode) error { return os.MkdirAll(r.abs(name), perm) }
func (r realFS) Rename(oldname, newname string) error {
	return os.Rename(r.abs(oldname), r.abs(newname))
}
func (r realFS) Readlink(name string) (string, error) { return os.Readlink(r.abs(name)) }
func (r realFS) Remove(name string) error             { return os.Remove(r.abs(name)) }
func (r realFS) RemoveAll(name string) error          { return os.RemoveAll(r.abs(name)) }
func (r realFS) Symlink(oldname, newname string) error {
	return os.Symlink(oldname, r.abs(newname))
}
func (r realFS) Lchown(name string, uid, gid int) error { return os.Lchown(r.abs(name), uid, gid) }
func (r realFS) Chtimes(name string, atime, mtime time.Time) error {
	return os.Chtimes(r.abs(name), atime, mtime)
}
func (realFS) Close() error { return nil }
