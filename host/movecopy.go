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
