package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Runtime is the part of a host that is not its filesystem: the container
// runtime, the kubelet service and the power switch. [Local] delegates to
// it; clustertest plugs its simulated kubelet in here.
type Runtime interface {
	// Containers lists the running containers whose name contains name
	// (all of them for ""), as "crictl ps --name <name>" does.
	Containers(ctx context.Context, name string) ([]Container, error)
	// RestartKubelet restarts the kubelet ("systemctl restart kubelet.service").
	RestartKubelet(ctx context.Context) error
	// Shutdown halts the host after delay ("shutdown -h 1").
	Shutdown(ctx context.Context, delay time.Duration) error
}

// LocalOptions configures a [Local] host. The zero value is usable.
type LocalOptions struct {
	// Runtime carries out Containers, RestartKubelet and Shutdown. Nil
	// means the real commands of the machine lifeboat runs on:
	// "crictl ps --name <name> -o json", "systemctl restart
	// kubelet.service" and "shutdown -h +<minutes>", run through Run.
	Runtime Runtime
	// Logger receives debug records of every operation. Nil discards them.
	Logger *slog.Logger
}

// Local is a host whose filesystem is reachable from this process: the
// machine lifeboat runs on (root "/"), or a directory tree standing in for a
// host (clustertest, unit tests, a mounted disk of a dead master).
//
// Host paths are absolute ("/var/lib/etcd") and are resolved beneath root.
// A path with a ".." element is refused ([ErrInvalidPath]); beneath a root
// other than "/", symbolic links are followed only while they stay inside
// the root (os.Root), so no operation reads or writes outside the tree.
//
// Run executes commands on the local machine as the user running this
// process, without any mapping of paths. On a real master lifeboat must run
// as root (as "chroot /host" or "sudo" give the runbook's administrator);
// Local does not escalate privileges itself.
type Local struct {
	name    string
	root    string
	runtime Runtime
	log     *slog.Logger
}

var _ Host = (*Local)(nil)

// NewLocal returns the host called name (its node name) whose filesystem
// root is the directory root. root "/" is the machine itself. The root does
// not have to exist yet; each operation opens it afresh. A relative root is
// made absolute against the working directory.
func NewLocal(name, root string, opts LocalOptions) *Local {
	if root == "" {
		root = "/"
	}
	if abs, err := filepath.Abs(root); err == nil {
		root = abs // so LocalPath gives absolute paths
	} else {
		root = filepath.Clean(root)
	}
	l := &Local{name: name, root: root, runtime: opts.Runtime, log: opts.Logger}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.log = l.log.With("host", name)
	return l
}

// Name returns the node name of the host.
func (l *Local) Name() string { return l.name }

// Root returns the directory that is "/" for this host.
func (l *Local) Root() string { return l.root }

// LocalPath maps a host path to its path on this machine. It returns "",
// false for a path that is not absolute or contains "..".
func (l *Local) LocalPath(p string) (string, bool) {
	rel, err := hostRel("localpath", p)
	if err != nil {
		return "", false
	}
	return filepath.Join(l.root, filepath.FromSlash(rel)), true
}

// logger is l's logger; a Local not made by NewLocal logs nothing.
func (l *Local) logger() *slog.Logger {
	if l.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.log
}

// openFS opens the root. A Local not made by NewLocal has none: its file
// operations are refused (a *lifeboat.OptionsError for "host.Local"),
// never taken to the working directory or "/".
func (l *Local) openFS() (fsys, error) {
	if l.root == "" {
		return nil, opterr.New("host.Local", "has no root: make it with NewLocal")
	}
	if l.root == "/" {
		return realFS{}, nil
	}
	r, err := os.OpenRoot(l.root)
	if err != nil {
		return nil, fmt.Errorf("host %s: opening root: %w", l.name, err)
	}
	return r, nil
}

// prepare checks ctx, validates p and opens the root.
func (l *Local) prepare(ctx context.Context, op, p string) (fsys, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("host %s: %s %s: %w", l.name, op, p, err)
	}
	rel, err := hostRel(op, p)
	if err != nil {
		return nil, "", l.wrap(op, p, err)
	}
	f, err := l.openFS()
	if err != nil {
		return nil, "", err
	}
	return f, rel, nil
}

// wrap reports err for host path p: an *fs.PathError from the root (which
// names the path relative to it) is renamed to the host path, and the host
// name is put in front.
func (l *Local) wrap(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("host %s: %w", l.name, &fs.PathError{Op: op, Path: p, Err: err})
}

// ReadFile returns the content of path.
func (l *Local) ReadFile(ctx context.Context, p string) ([]byte, error) {
	rc, err := l.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, l.wrap("read", p, err)
	}
	return b, nil
}

// Open opens path for reading. Reads fail once ctx is cancelled.
func (l *Local) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	fsys, rel, err := l.prepare(ctx, "open", p)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	f, err := fsys.Open(rel)
	if err != nil {
		return nil, l.wrap("open", p, err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, l.wrap("open", p, errors.New("is a directory"))
	}
	return &ctxReadCloser{ctx: ctx, r: f, c: f}, nil
}

// WriteFile writes r to path with exactly perm, atomically: a temporary
// file in the same directory is written, synced, renamed over path, and the
// directory is synced. The parent directory must exist.
func (l *Local) WriteFile(ctx context.Context, p string, r io.Reader, perm fs.FileMode) error {
	fsys, rel, err := l.prepare(ctx, "write", p)
	if err != nil {
		return err
	}
	defer fsys.Close()
	if rel == "." {
		return l.wrap("write", p, errors.New("is a directory"))
	}
	tmp := path.Join(path.Dir(rel), "."+path.Base(rel)+".lifeboat-"+randomSuffix())
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return l.wrap("write", p, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			fsys.Remove(tmp)
		}
	}()
	if _, err := io.Copy(f, &ctxReadCloser{ctx: ctx, r: r}); err != nil {
		return l.wrap("write", p, err)
	}
	if err := f.Chmod(perm.Perm()); err != nil {
		return l.wrap("write", p, err)
	}
	if err := f.Sync(); err != nil {
		return l.wrap("write", p, err)
	}
	if err := f.Close(); err != nil {
		return l.wrap("write", p, err)
	}
	if err := ctx.Err(); err != nil {
		return l.wrap("write", p, err)
	}
	if err := fsys.Rename(tmp, rel); err != nil {
		return l.wrap("write", p, err)
	}
	committed = true
	if err := syncDir(fsys, path.Dir(rel)); err != nil {
		return l.wrap("write", p, err)
	}
	l.logger().Debug("wrote file", "path", p, "mode", perm.Perm())
	return nil
}

func syncDir(fsys fsys, rel string) error {
	d, err := fsys.Open(rel)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Stat describes path without following a final symlink.
func (l *Local) Stat(ctx context.Context, p string) (FileInfo, error) {
	fsys, rel, err := l.prepare(ctx, "stat", p)
	if err != nil {
		return FileInfo{}, err
	}
	defer fsys.Close()
	fi, err := fsys.Lstat(rel)
	if err != nil {
		return FileInfo{}, l.wrap("stat", p, err)
	}
	info := fileInfoFrom(fi)
	if rel == "." {
		info.Name = "/"
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if info.LinkTarget, err = fsys.Readlink(rel); err != nil {
			return FileInfo{}, l.wrap("stat", p, err)
		}
	}
	return info, nil
}

// ReadDir lists the directory path, sorted by name.
func (l *Local) ReadDir(ctx context.Context, p string) ([]FileInfo, error) {
	fsys, rel, err := l.prepare(ctx, "readdir", p)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	d, err := fsys.Open(rel)
	if err != nil {
		return nil, l.wrap("readdir", p, err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, l.wrap("readdir", p, err)
	}
	out := make([]FileInfo, 0, len(entries))
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, l.wrap("readdir", p, err)
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while listing
		}
		if err != nil {
			return nil, l.wrap("readdir", p, err)
		}
		info := fileInfoFrom(fi)
		if fi.Mode()&fs.ModeSymlink != 0 {
			if info.LinkTarget, err = fsys.Readlink(path.Join(rel, e.Name())); err != nil {
				return nil, l.wrap("readdir", p, err)
			}
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// MkdirAll creates path and any missing parents with perm (before umask).
func (l *Local) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	fsys, rel, err := l.prepare(ctx, "mkdir", p)
	if err != nil {
		return err
	}
	defer fsys.Close()
	if err := fsys.MkdirAll(rel, perm.Perm()); err != nil {
		return l.wrap("mkdir", p, err)
	}
	return nil
}

// Move renames src to dst (a file or a directory tree), never overwriting:
// src missing and dst present counts as already moved (nil); both present
// is an error wrapping fs.ErrExist; both missing wraps fs.ErrNotExist. The
// parent of dst must exist. When src and dst are on different filesystems
// (EXDEV) the tree is copied beside dst, renamed into place and only then is
// src removed, as mv(1) does. When src is itself a mount point (/var/lib/etcd
// on its own disk; rename answers EBUSY) its content is moved that way and
// the mount point stays, empty but for lost+found; Move on such an emptied
// mount point with dst present counts as already moved.
func (l *Local) Move(ctx context.Context, src, dst string) error {
	fsys, srcRel, err := l.prepare(ctx, "move", src)
	if err != nil {
		return err
	}
	defer fsys.Close()
	dstRel, err := hostRel("move", dst)
	if err != nil {
		return l.wrap("move", dst, err)
	}
	srcExists, err := exists(fsys, srcRel)
	if err != nil {
		return l.wrap("move", src, err)
	}
	dstExists, err := exists(fsys, dstRel)
	if err != nil {
		return l.wrap("move", dst, err)
	}
	switch {
	case !srcExists && dstExists:
		l.logger().Debug("already moved", "src", src, "dst", dst)
		return nil
	case !srcExists:
		return l.wrap("move", src, fs.ErrNotExist)
	case dstExists:
		if done, err := mountMoved(fsys, srcRel); err != nil {
			return l.wrap("move", src, err)
		} else if done {
			l.logger().Debug("already moved (the mount point stays)", "src", src, "dst", dst)
			return nil
		}
		return l.wrap("move", dst, fs.ErrExist)
	}
	err = fsys.Rename(srcRel, dstRel)
	switch {
	case (isCrossDevice(err) || isBusy(err)) && isMountPoint(fsys, srcRel):
		err = moveMountContent(ctx, fsys, srcRel, dstRel)
	case isCrossDevice(err):
		err = moveByCopy(ctx, fsys, srcRel, dstRel)
	}
	if err != nil {
		return fmt.Errorf("host %s: move %s to %s: %w", l.name, src, dst, unwrapPathError(err))
	}
	l.logger().Debug("moved", "src", src, "dst", dst)
	return nil
}

func unwrapPathError(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func exists(fsys fsys, rel string) (bool, error) {
	_, err := fsys.Lstat(rel)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// ctxReadCloser fails reads once ctx is done.
type ctxReadCloser struct {
	ctx context.Context
	r   io.Reader
	c   io.Closer
}

func (c *ctxReadCloser) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *ctxReadCloser) Close() error {
	if c.c == nil {
		return nil
	}
	return c.c.Close()
}

func fileInfoFrom(fi fs.FileInfo) FileInfo {
	return FileInfo{Name: fi.Name(), Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
