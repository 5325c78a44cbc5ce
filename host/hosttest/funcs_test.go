package hosttest_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
)

var errInjected = errors.New("injected")

// TestWrapReplacesOnlyTheGivenOperation fails Move and checks that every
// other operation still reaches the wrapped directory.
func TestWrapReplacesOnlyTheGivenOperation(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{"etc/kubernetes/manifests/etcd-pod.yaml": "kind: Pod\n"})
	d := hosttest.NewDir("master-0", root, hosttest.DirOptions{})
	var moves []string
	h := hosttest.Wrap(d, hosttest.Funcs{
		Move: func(ctx context.Context, next host.Host, src, dst string) error {
			moves = append(moves, src+" -> "+dst)
			if strings.HasPrefix(src, "/etc/kubernetes/manifests/") {
				return errInjected
			}
			return next.Move(ctx, src, dst)
		},
	})
	ctx := t.Context()
	if h.Name() != "master-0" {
		t.Fatalf("Name = %q", h.Name())
	}
	if err := h.Move(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", "/etcd-pod.yaml"); !errors.Is(err, errInjected) {
		t.Fatalf("Move = %v, want the injected error", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/kubernetes/manifests/etcd-pod.yaml")); err != nil {
		t.Fatalf("the failed move moved: %v", err)
	}
	if err := h.MkdirAll(ctx, "/var/lib/etcd", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := h.Move(ctx, "/var/lib/etcd", "/var/lib/etcd-old"); err != nil {
		t.Fatalf("a move the func passes on: %v", err)
	}
	if len(moves) != 2 {
		t.Fatalf("moves seen: %v", moves)
	}
	if b, err := h.ReadFile(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml"); err != nil || string(b) != "kind: Pod\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if cs, err := h.Containers(ctx, "etcd"); err != nil || len(cs) == 0 {
		t.Fatalf("Containers = %v, %v", cs, err)
	}
	if _, err := h.Run(ctx, nil, "true"); !errors.Is(err, hosttest.ErrCommandRefused) {
		t.Fatalf("Run = %v, want the Dir's refusal", err)
	}
	if _, ok := h.LocalPath("/var/lib/etcd-old"); !ok {
		t.Fatal("LocalPath not delegated")
	}
}

// TestWrapEveryOperation checks that each field replaces its operation.
func TestWrapEveryOperation(t *testing.T) {
	called := map[string]bool{}
	mark := func(op string) error { called[op] = true; return errInjected }
	h := hosttest.Wrap(hosttest.Unimplemented("m"), hosttest.Funcs{
		ReadFile:       func(context.Context, host.Host, string) ([]byte, error) { return nil, mark("ReadFile") },
		Open:           func(context.Context, host.Host, string) (io.ReadCloser, error) { return nil, mark("Open") },
		WriteFile:      func(context.Context, host.Host, string, io.Reader, os.FileMode) error { return mark("WriteFile") },
		Stat:           func(context.Context, host.Host, string) (host.FileInfo, error) { return host.FileInfo{}, mark("Stat") },
		ReadDir:        func(context.Context, host.Host, string) ([]host.FileInfo, error) { return nil, mark("ReadDir") },
		MkdirAll:       func(context.Context, host.Host, string, os.FileMode) error { return mark("MkdirAll") },
		Move:           func(context.Context, host.Host, string, string) error { return mark("Move") },
		Containers:     func(context.Context, host.Host, string) ([]host.Container, error) { return nil, mark("Containers") },
		RestartKubelet: func(context.Context, host.Host) error { return mark("RestartKubelet") },
		Shutdown:       func(context.Context, host.Host, time.Duration) error { return mark("Shutdown") },
		Run:            func(context.Context, host.Host, io.Reader, ...string) ([]byte, error) { return nil, mark("Run") },
		LocalPath:      func(host.Host, string) (string, bool) { mark("LocalPath"); return "/x", true },
	})
	for name, err := range everyOperation(t.Context(), h) {
		if !errors.Is(err, errInjected) {
			t.Errorf("%s: %v, want the func's error", name, err)
		}
		if !called[name] {
			t.Errorf("%s: func not called", name)
		}
	}
	if p, ok := h.LocalPath("/a"); !ok || p != "/x" || !called["LocalPath"] {
		t.Errorf("LocalPath = %q, %v", p, ok)
	}
}

// everyOperation runs each operation of h but Name and LocalPath once.
func everyOperation(ctx context.Context, h host.Host) map[string]error {
	out := map[string]error{}
	_, out["ReadFile"] = h.ReadFile(ctx, "/a")
	_, out["Open"] = h.Open(ctx, "/a")
	out["WriteFile"] = h.WriteFile(ctx, "/a", strings.NewReader(""), 0o600)
	_, out["Stat"] = h.Stat(ctx, "/a")
	_, out["ReadDir"] = h.ReadDir(ctx, "/")
	out["MkdirAll"] = h.MkdirAll(ctx, "/a", 0o700)
	out["Move"] = h.Move(ctx, "/a", "/b")
	_, out["Containers"] = h.Containers(ctx, "etcd")
	out["RestartKubelet"] = h.RestartKubelet(ctx)
	out["Shutdown"] = h.Shutdown(ctx, time.Minute)
	_, out["Run"] = h.Run(ctx, nil, "true")
	return out
}

func TestUnimplemented(t *testing.T) {
	h := hosttest.Unimplemented("master-2")
	for name, err := range everyOperation(t.Context(), h) {
		if !errors.Is(err, hosttest.ErrUnimplemented) || !strings.Contains(err.Error(), "master-2") {
			t.Errorf("%s: %v, want ErrUnimplemented naming the host", name, err)
		}
	}
	if _, ok := h.LocalPath("/a"); ok {
		t.Error("LocalPath answered")
	}
	if got := hosttest.Wrap(nil, hosttest.Funcs{}); got.Name() != "" {
		t.Errorf("Wrap(nil) Name = %q", got.Name())
	} else if err := got.RestartKubelet(t.Context()); !errors.Is(err, hosttest.ErrUnimplemented) {
		t.Errorf("Wrap(nil) RestartKubelet = %v", err)
	}
}

// dialHost is a host that can dial: a Dir with host.Dialer.
type dialHost struct {
	*hosttest.Dir
	dials int
}

func (d *dialHost) DialContext(context.Context, string, string) (net.Conn, error) {
	d.dials++
	return nil, errInjected
}

func TestWrapKeepsOrHidesTheDialer(t *testing.T) {
	dialer := func() *dialHost { return &dialHost{Dir: hosttest.NewDir("m", t.TempDir(), hosttest.DirOptions{})} }
	replaced := func(ctx context.Context, next host.Dialer, network, addr string) (net.Conn, error) {
		if next != nil {
			return next.DialContext(ctx, network, addr)
		}
		return nil, errors.New("replaced, no next")
	}
	tests := []struct {
		name      string
		next      func() *dialHost // nil: a Dir, which cannot dial
		funcs     hosttest.Funcs
		wantDial  bool
		wantDials int // calls reaching the wrapped dialer
	}{
		{name: "a dialer stays one", next: dialer, wantDial: true, wantDials: 1},
		{name: "a dialer hidden", next: dialer, funcs: hosttest.Funcs{NoDialer: true}},
		{name: "a host that cannot dial stays so"},
		{name: "DialContext makes one", funcs: hosttest.Funcs{DialContext: replaced}, wantDial: true},
		{name: "DialContext gets the wrapped dialer", next: dialer, funcs: hosttest.Funcs{DialContext: replaced}, wantDial: true, wantDials: 1},
		{name: "DialContext with the dialer hidden", next: dialer, funcs: hosttest.Funcs{DialContext: replaced, NoDialer: true}, wantDial: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var next host.Host = hosttest.NewDir("m", t.TempDir(), hosttest.DirOptions{})
			var dh *dialHost
			if tc.next != nil {
				dh = tc.next()
				next = dh
			}
			d, ok := hosttest.Wrap(next, tc.funcs).(host.Dialer)
			if ok != tc.wantDial {
				t.Fatalf("is a host.Dialer: %v, want %v", ok, tc.wantDial)
			}
			if !ok {
				return
			}
			if _, err := d.DialContext(t.Context(), "tcp", "localhost:6443"); err == nil {
				t.Fatal("dial succeeded")
			}
			if dh != nil && dh.dials != tc.wantDials {
				t.Fatalf("wrapped dialer called %d times, want %d", dh.dials, tc.wantDials)
			}
		})
	}
}
