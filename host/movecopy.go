package host

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// moveByCopy moves src to dst when a rename cannot (they are on different
// filesystems, as /var/lib/etcd and a tmpfs /tmp may be): the tree is
// copied to a temporary name beside dst and synced, renamed to dst, and
// only then is src removed, which is what mv(1) does. If anything fails
// before the rename, the partial copy is removed and src is untouched.
func moveByCopy(ctx context.Context, fsys fsys, src, dst string) error {
	tmp := path.Join(path.Dir(dst), "."+path.Base(dst)+".lifeboat-"+randomSuffix())
	if err := copyTree(ctx, fsys, src, tmp); err != nil {
		fsys.RemoveAll(tmp)
		return err
	}
	if err := fsys.Rename(tmp, dst); err != nil {
		fsys.RemoveAll(tmp)
		return err
	}
	if err := syncDir(fsys, path.Dir(dst)); err != nil {
		return err
	}
	return fsys.RemoveAll(src)
}

// copyTree copies src to dst (which must not exist) preserving modes,
// modification times, symlinks and, where permitted, ownership.
func copyTree(ctx context.Context, fsys fsys, src, dst string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := fsys.Lstat(src)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := fsys.Readlink(src)
		if err != nil {
			return err
		}
		if err := fsys.Symlink(target, dst); err != nil {
			return err
		}
	case fi.IsDir():
		if err := fsys.MkdirAll(dst, 0o700); err != nil {
			return err
		}
		d, err := fsys.Open(src)
		if err != nil {
			return err
		}
		entries, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := copyTree(ctx, fsys, path.Join(src, e.Name()), path.Join(dst, e.Name())); err != nil {
				return err
			}
		}
		if err := setMode(fsys, dst, fi.Mode()); err != nil {
			return err
		}
		if err := syncDir(fsys, dst); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		if err := copyFile(ctx, fsys, src, dst, fi.Mode()); err != nil {
			return err
		}
	default:
		return fmt.Errorf("copying %s: unsupported file type %s", src, fi.Mode().Type())
	}
	copyOwner(fsys, dst, fi)
	if fi.Mode()&fs.ModeSymlink == 0 {
		if err := fsys.Chtimes(dst, fi.ModTime(), fi.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(ctx context.Context, fsys fsys, src, dst string, mode fs.FileMode) error {
	in, err := fsys.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := fsys.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, &ctxReadCloser{ctx: ctx, r: in}); err != nil {
		out.Close()
		return err
	}
	if err := out.Chmod(mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func setMode(fsys fsys, name string, mode fs.FileMode) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky))
}

// lostFound is what mkfs leaves at the root of an ext4 filesystem; it
// belongs to the filesystem, so it stays when a mount's content moves.
const lostFound = "lost+found"

// isMountPoint reports whether src (a directory) is the root of a mount.
func isMountPoint(fsys fsys, src string) bool {
	fi, err := fsys.Lstat(src)
	if err != nil || !fi.IsDir() {
		return false
	}
	pfi, err := fsys.Lstat(path.Dir(src))
	return err == nil && onOtherDevice(fi, pfi)
}

// mountMoved reports whether src is a mount point left empty (but for
// lost+found) by moveMountContent: Move then counts as done.
func mountMoved(fsys fsys, src string) (bool, error) {
	if !isMountPoint(fsys, src) {
		return false, nil
	}
	names, err := readNames(fsys, src)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		if n != lostFound {
			return false, nil
		}
	}
	return true, nil
}

// moveMountContent moves a mount point src to dst, which rename refuses
// (EBUSY) and no tool can do: the tree is copied to dst as moveByCopy does
// (lost+found excepted), and then src's entries are removed, leaving the
// mount point itself, with its lost+found, empty in place. If anything
// fails before dst is in place, src is untouched.
func moveMountContent(ctx context.Context, fsys fsys, src, dst string) error {
	tmp := path.Join(path.Dir(dst), "."+path.Base(dst)+".lifeboat-"+randomSuffix())
	if err := copyTreeExcept(ctx, fsys, src, tmp, lostFound); err != nil {
		fsys.RemoveAll(tmp)
		return err
	}
	if err := fsys.Rename(tmp, dst); err != nil {
		fsys.RemoveAll(tmp)
		return err
	}
	if err := syncDir(fsys, path.Dir(dst)); err != nil {
		return err
	}
	names, err := readNames(fsys, src)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == lostFound {
			continue
		}
		if err := fsys.RemoveAll(path.Join(src, n)); err != nil {
			return err
		}
	}
	return syncDir(fsys, src)
}

// copyTreeExcept copies the directory src to dst as copyTree does, without
// src's top-level entry named skip.
func copyTreeExcept(ctx context.Context, fsys fsys, src, dst, skip string) error {
	fi, err := fsys.Lstat(src)
	if err != nil {
		return err
	}
	if err := fsys.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	names, err := readNames(fsys, src)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == skip {
			continue
		}
		if err := copyTree(ctx, fsys, path.Join(src, n), path.Join(dst, n)); err != nil {
			return err
		}
	}
	if err := setMode(fsys, dst, fi.Mode()); err != nil {
		return err
	}
	copyOwner(fsys, dst, fi)
	if err := syncDir(fsys, dst); err != nil {
		return err
	}
	return fsys.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

func readNames(fsys fsys, dir string) ([]string, error) {
	d, err := fsys.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}
