package hosttest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// RunFunc carries out [host.Host.Run] for a [Dir]: argv as the runbook
// would run it as root on the master, stdin possibly nil. It returns the
// command's standard output; a command that "exits non-zero" should return
// a *host.ExitError, as the real hosts do.
type RunFunc func(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error)

// DirOptions configures a [Dir]. The zero value is usable: the static pods
// of the tree run under a [Kubelet] and every command is refused.
type DirOptions struct {
	// Run carries out Run. Nil refuses every command with an error
	// wrapping [ErrCommandRefused] and runs nothing.
	Run RunFunc
	// Runtime carries out Containers, RestartKubelet and Shutdown. Nil
	// means a [Kubelet] over the tree with [StaticPods] (see
	// [Dir.Kubelet]).
	Runtime host.Runtime
	// Logger receives host.Local's debug records. Nil discards them.
	Logger *slog.Logger
}

// Dir is a [host.Host] whose filesystem is the directory tree beneath
// Root: host path "/etc/kubernetes/manifests/etcd-pod.yaml" is the file
// Root/etc/kubernetes/manifests/etcd-pod.yaml. Files are read and written
// by a [host.Local] on that root, so paths cannot leave the tree (".." and
// symlinks out of it are refused) and writes are atomic, as on a real host.
//
// Containers, RestartKubelet and Shutdown are carried out by the Runtime
// (a [Kubelet] by default); Run by [DirOptions.Run], or refused. Dir does
// not implement host.Dialer; wrap it ([Wrap], [Funcs.DialContext]) to give
// a test one. A Dir is safe for concurrent use.
type Dir struct {
	local   *host.Local
	run     RunFunc
	kubelet *Kubelet
}

var _ host.Host = (*Dir)(nil)

// NewDir returns the host called name (its node name) whose "/" is the
// directory root. root need not exist yet; a relative root is made
// absolute against the working directory.
func NewDir(name, root string, opts DirOptions) *Dir {
	d := &Dir{run: opts.Run}
	rt := opts.Runtime
	if rt == nil {
		d.kubelet = &Kubelet{}
		rt = d.kubelet
	}
	d.local = host.NewLocal(name, root, host.LocalOptions{Runtime: rt, Logger: opts.Logger})
	if d.kubelet != nil {
		d.kubelet.Root, d.kubelet.Node = d.local.Root(), name
	}
	return d
}

// loc is the Local carrying out d's operations. A Dir not made by NewDir
// has none: its operations are refused with a *lifeboat.OptionsError
// (never carried out on this machine, as a Local without a runtime
// would carry out Shutdown).
func (d *Dir) loc() (*host.Local, error) {
	if d.local == nil {
		return nil, opterr.New("hosttest.Dir", "is not from NewDir")
	}
	return d.local, nil
}

// Root returns the directory that is "/" for this host.
func (d *Dir) Root() string {
	if d.local == nil {
		return ""
	}
	return d.local.Root()
}

// Kubelet returns the default runtime, or nil when [DirOptions.Runtime]
// was set.
func (d *Dir) Kubelet() *Kubelet { return d.kubelet }

// Name returns the node name.
func (d *Dir) Name() string {
	if d.local == nil {
		return ""
	}
	return d.local.Name()
}

// ReadFile implements host.Host.
func (d *Dir) ReadFile(ctx context.Context, p string) ([]byte, error) {
	l, err := d.loc()
	if err != nil {
		return nil, err
	}
	return l.ReadFile(ctx, p)
}

// Open implements host.Host.
func (d *Dir) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	l, err := d.loc()
	if err != nil {
		return nil, err
	}
	return l.Open(ctx, p)
}

// WriteFile implements host.Host.
func (d *Dir) WriteFile(ctx context.Context, p string, r io.Reader, perm fs.FileMode) error {
	l, err := d.loc()
	if err != nil {
		return err
	}
	return l.WriteFile(ctx, p, r, perm)
}

// Stat implements host.Host.
func (d *Dir) Stat(ctx context.Context, p string) (host.FileInfo, error) {
	l, err := d.loc()
	if err != nil {
		return host.FileInfo{}, err
	}
	return l.Stat(ctx, p)
}

// ReadDir implements host.Host.
func (d *Dir) ReadDir(ctx context.Context, p string) ([]host.FileInfo, error) {
	l, err := d.loc()
	if err != nil {
		return nil, err
	}
	return l.ReadDir(ctx, p)
}

// MkdirAll implements host.Host.
func (d *Dir) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	l, err := d.loc()
	if err != nil {
		return err
	}
	return l.MkdirAll(ctx, p, perm)
}

// Move implements host.Host.
func (d *Dir) Move(ctx context.Context, src, dst string) error {
	l, err := d.loc()
	if err != nil {
		return err
	}
	return l.Move(ctx, src, dst)
}

// Containers implements host.Host through the runtime.
func (d *Dir) Containers(ctx context.Context, name string) ([]host.Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("host %s: crictl ps: %w", d.Name(), err)
	}
	l, err := d.loc()
	if err != nil {
		return nil, err
	}
	return l.Containers(ctx, name)
}

// RestartKubelet implements host.Host through the runtime.
func (d *Dir) RestartKubelet(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("host %s: restart kubelet: %w", d.Name(), err)
	}
	l, err := d.loc()
	if err != nil {
		return err
	}
	return l.RestartKubelet(ctx)
}

// Shutdown implements host.Host through the runtime.
func (d *Dir) Shutdown(ctx context.Context, delay time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("host %s: shutdown: %w", d.Name(), err)
	}
	l, err := d.loc()
	if err != nil {
		return err
	}
	return l.Shutdown(ctx, delay)
}

// Run implements host.Host with [DirOptions.Run], or refuses the command
// with an error wrapping [ErrCommandRefused].
func (d *Dir) Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("host %s: run %s: %w", d.Name(), strings.Join(argv, " "), err)
	}
	if d.run == nil {
		return nil, fmt.Errorf("host %s: run %s: %w", d.Name(), strings.Join(argv, " "), ErrCommandRefused)
	}
	return d.run(ctx, stdin, argv...)
}

// LocalPath maps a host path into the tree ("", false for a path that is
// not absolute or contains "..").
func (d *Dir) LocalPath(p string) (string, bool) {
	if d.local == nil {
		return "", false
	}
	return d.local.LocalPath(p)
}
