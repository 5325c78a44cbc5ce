package hosttest

import (
	"context"
	"io"
	"io/fs"
	"net"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
)

// Funcs replaces operations of a host for a test, one optional function
// per [host.Host] operation. A nil field leaves the operation to the
// wrapped host; a set one is called instead, with the wrapped host as its
// second argument so that it can fail, record, delay or alter the
// operation and still carry it out (controller-runtime's interceptor.Funcs
// shape). Name is always the wrapped host's.
type Funcs struct {
	ReadFile       func(ctx context.Context, next host.Host, path string) ([]byte, error)
	Open           func(ctx context.Context, next host.Host, path string) (io.ReadCloser, error)
	WriteFile      func(ctx context.Context, next host.Host, path string, r io.Reader, perm fs.FileMode) error
	Stat           func(ctx context.Context, next host.Host, path string) (host.FileInfo, error)
	ReadDir        func(ctx context.Context, next host.Host, path string) ([]host.FileInfo, error)
	MkdirAll       func(ctx context.Context, next host.Host, path string, perm fs.FileMode) error
	Move           func(ctx context.Context, next host.Host, src, dst string) error
	Containers     func(ctx context.Context, next host.Host, name string) ([]host.Container, error)
	RestartKubelet func(ctx context.Context, next host.Host) error
	Shutdown       func(ctx context.Context, next host.Host, delay time.Duration) error
	Run            func(ctx context.Context, next host.Host, stdin io.Reader, argv ...string) ([]byte, error)
	LocalPath      func(next host.Host, path string) (string, bool)

	// DialContext replaces host.Dialer's method. The wrapping host
	// implements host.Dialer when this is set, or when the wrapped host
	// implements it and NoDialer is false; next is nil when the wrapped
	// host does not.
	DialContext func(ctx context.Context, next host.Dialer, network, addr string) (net.Conn, error)
	// NoDialer hides the wrapped host's DialContext: the wrapping host
	// does not implement host.Dialer (as a *debugpod.Host does not),
	// unless DialContext is set.
	NoDialer bool
}

// Wrap returns a host that carries out every operation on next, except
// those funcs replaces. Use [Unimplemented] as next for a host that has
// only the operations funcs gives; a nil next is Unimplemented("").
func Wrap(next host.Host, funcs Funcs) host.Host {
	if next == nil {
		next = Unimplemented("")
	}
	w := &wrapped{next: next, f: funcs}
	d, ok := next.(host.Dialer)
	if funcs.NoDialer {
		d, ok = nil, false
	}
	if ok || funcs.DialContext != nil {
		return &dialingWrapped{wrapped: w, dialer: d}
	}
	return w
}

type wrapped struct {
	next host.Host
	f    Funcs
}

func (w *wrapped) Name() string { return w.next.Name() }

func (w *wrapped) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if w.f.ReadFile != nil {
		return w.f.ReadFile(ctx, w.next, p)
	}
	return w.next.ReadFile(ctx, p)
}

func (w *wrapped) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if w.f.Open != nil {
		return w.f.Open(ctx, w.next, p)
	}
	return w.next.Open(ctx, p)
}

func (w *wrapped) WriteFile(ctx context.Context, p string, r io.Reader, perm fs.FileMode) error {
	if w.f.WriteFile != nil {
		return w.f.WriteFile(ctx, w.next, p, r, perm)
	}
	return w.next.WriteFile(ctx, p, r, perm)
}

func (w *wrapped) Stat(ctx context.Context, p string) (host.FileInfo, error) {
	if w.f.Stat != nil {
		return w.f.Stat(ctx, w.next, p)
	}
	return w.next.Stat(ctx, p)
}

func (w *wrapped) ReadDir(ctx context.Context, p string) ([]host.FileInfo, error) {
	if w.f.ReadDir != nil {
		return w.f.ReadDir(ctx, w.next, p)
	}
	return w.next.ReadDir(ctx, p)
}

func (w *wrapped) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	if w.f.MkdirAll != nil {
		return w.f.MkdirAll(ctx, w.next, p, perm)
	}
	return w.next.MkdirAll(ctx, p, perm)
}

func (w *wrapped) Move(ctx context.Context, src, dst string) error {
	if w.f.Move != nil {
		return w.f.Move(ctx, w.next, src, dst)
	}
	return w.next.Move(ctx, src, dst)
}

func (w *wrapped) Containers(ctx context.Context, name string) ([]host.Container, error) {
	if w.f.Containers != nil {
		return w.f.Containers(ctx, w.next, name)
	}
	return w.next.Containers(ctx, name)
}

func (w *wrapped) RestartKubelet(ctx context.Context) error {
	if w.f.RestartKubelet != nil {
		return w.f.RestartKubelet(ctx, w.next)
	}
	return w.next.RestartKubelet(ctx)
}

func (w *wrapped) Shutdown(ctx context.Context, delay time.Duration) error {
	if w.f.Shutdown != nil {
		return w.f.Shutdown(ctx, w.next, delay)
	}
	return w.next.Shutdown(ctx, delay)
}

func (w *wrapped) Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	if w.f.Run != nil {
		return w.f.Run(ctx, w.next, stdin, argv...)
	}
	return w.next.Run(ctx, stdin, argv...)
}

func (w *wrapped) LocalPath(p string) (string, bool) {
	if w.f.LocalPath != nil {
		return w.f.LocalPath(w.next, p)
	}
	return w.next.LocalPath(p)
}

// dialingWrapped is a wrapped host that is also a host.Dialer.
type dialingWrapped struct {
	*wrapped
	dialer host.Dialer // nil when the wrapped host cannot dial
}

var _ host.Dialer = (*dialingWrapped)(nil)

func (w *dialingWrapped) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if w.f.DialContext != nil {
		return w.f.DialContext(ctx, w.dialer, network, addr)
	}
	return w.dialer.DialContext(ctx, network, addr)
}
