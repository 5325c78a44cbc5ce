package hosttest

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
)

// Unimplemented returns a host called name on which every operation fails
// with an error wrapping [ErrUnimplemented] (LocalPath returns "", false):
// the base for a [Wrap] that gives a test only the operations it expects,
// so an unexpected call fails the test with a clear error instead of a nil
// pointer panic.
func Unimplemented(name string) host.Host { return unimplemented(name) }

type unimplemented string

func (u unimplemented) err(op string, args ...string) error {
	return fmt.Errorf("host %s: %s %s: %w", string(u), op, strings.Join(args, " "), ErrUnimplemented)
}

func (u unimplemented) Name() string { return string(u) }

func (u unimplemented) ReadFile(_ context.Context, p string) ([]byte, error) {
	return nil, u.err("read", p)
}

func (u unimplemented) Open(_ context.Context, p string) (io.ReadCloser, error) {
	return nil, u.err("open", p)
}

func (u unimplemented) WriteFile(_ context.Context, p string, _ io.Reader, _ fs.FileMode) error {
	return u.err("write", p)
}

func (u unimplemented) Stat(_ context.Context, p string) (host.FileInfo, error) {
	return host.FileInfo{}, u.err("stat", p)
}

func (u unimplemented) ReadDir(_ context.Context, p string) ([]host.FileInfo, error) {
	return nil, u.err("readdir", p)
}

func (u unimplemented) MkdirAll(_ context.Context, p string, _ fs.FileMode) error {
	return u.err("mkdir", p)
}

func (u unimplemented) Move(_ context.Context, src, dst string) error {
	return u.err("move", src, dst)
}

func (u unimplemented) Containers(_ context.Context, name string) ([]host.Container, error) {
	return nil, u.err("crictl ps --name", name)
}

func (u unimplemented) RestartKubelet(context.Context) error {
	return u.err("restart kubelet")
}

func (u unimplemented) Shutdown(_ context.Context, d time.Duration) error {
	return u.err("shutdown", d.String())
}

func (u unimplemented) Run(_ context.Context, _ io.Reader, argv ...string) ([]byte, error) {
	return nil, u.err("run", argv...)
}

func (u unimplemented) LocalPath(string) (string, bool) { return "", false }
