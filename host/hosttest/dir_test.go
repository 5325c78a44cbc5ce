package hosttest_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
)

// writeTree writes files (host path -> content) beneath root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		lp := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(lp), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func containerNames(t *testing.T, h host.Host, name string) []string {
	t.Helper()
	cs, err := h.Containers(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Pod+"/"+c.Name)
	}
	return out
}

func TestDirFilesLiveBeneathRoot(t *testing.T) {
	root := t.TempDir()
	d := hosttest.NewDir("master-0", root, hosttest.DirOptions{})
	ctx := t.Context()
	if err := d.MkdirAll(ctx, "/var/lib/etcd/member", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile(ctx, "/var/lib/etcd/member/db", strings.NewReader("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "var/lib/etcd/member/db")); err != nil || string(b) != "data" {
		t.Fatalf("file in the tree = %q, %v", b, err)
	}
	if err := d.Move(ctx, "/var/lib/etcd", "/tmp/etcd"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("move into a missing parent: %v, want fs.ErrNotExist", err)
	}
	if err := d.MkdirAll(ctx, "/tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(ctx, "/var/lib/etcd", "/tmp/etcd"); err != nil {
		t.Fatal(err)
	}
	if lp, ok := d.LocalPath("/tmp/etcd/member/db"); !ok || lp != filepath.Join(root, "tmp/etcd/member/db") {
		t.Fatalf("LocalPath = %q, %v", lp, ok)
	}
	if _, err := d.ReadFile(ctx, "/../../etc/passwd"); !errors.Is(err, host.ErrInvalidPath) {
		t.Fatalf("path out of the tree: %v, want host.ErrInvalidPath", err)
	}
	if d.Name() != "master-0" || d.Root() != root {
		t.Fatalf("Name, Root = %q, %q", d.Name(), d.Root())
	}
}

func TestDirRun(t *testing.T) {
	tests := []struct {
		name    string
		run     hosttest.RunFunc
		want    string
		wantErr error
	}{
		{name: "refused without a RunFunc", wantErr: hosttest.ErrCommandRefused},
		{
			name: "carried out by the RunFunc",
			run: func(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
				in, _ := io.ReadAll(stdin)
				return []byte(strings.Join(argv, " ") + "<" + string(in)), nil
			},
			want: "etcdctl member list<input",
		},
		{
			name: "an exit error passes through",
			run: func(context.Context, io.Reader, ...string) ([]byte, error) {
				return nil, &host.ExitError{Host: "master-0", Code: 2}
			},
			wantErr: &host.ExitError{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := hosttest.NewDir("master-0", t.TempDir(), hosttest.DirOptions{Run: tc.run})
			out, err := d.Run(t.Context(), strings.NewReader("input"), "etcdctl", "member", "list")
			var exit *host.ExitError
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatal(err)
			case errors.As(tc.wantErr, &exit):
				if !errors.As(err, &exit) || exit.Code != 2 {
					t.Fatalf("err = %v, want the *host.ExitError", err)
				}
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if string(out) != tc.want {
				t.Fatalf("out = %q, want %q", out, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), "master-0") {
				t.Errorf("error %q does not name the host", err)
			}
		})
	}
}

func TestDirKubeletFollowsManifests(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/kubernetes/manifests/etcd-pod.yaml":           "kind: Pod\n",
		"etc/kubernetes/manifests/kube-apiserver-pod.yaml": "kind: Pod\n",
		"etc/kubernetes/manifests/unknown-pod.yaml":        "kind: Pod\n",
	})
	d := hosttest.NewDir("master-0", root, hosttest.DirOptions{})
	ctx := t.Context()
	if got, want := containerNames(t, d, "etcd"), []string{"etcd-master-0/etcd", "etcd-master-0/etcdctl", "etcd-master-0/etcd-metrics", "etcd-master-0/etcd-readyz"}; !slices.Equal(got, want) {
		t.Fatalf("etcd containers = %v, want %v", got, want)
	}
	if got := containerNames(t, d, ""); len(got) != 5 {
		t.Fatalf("all containers = %v, want etcd's four and kube-apiserver", got)
	}
	if err := d.MkdirAll(ctx, "/var/lib/etcd-backup", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd-backup/etcd-pod.yaml"); err != nil {
		t.Fatal(err)
	}
	if got := containerNames(t, d, "etcd"); len(got) != 0 {
		t.Fatalf("etcd containers after the manifest moved aside = %v", got)
	}
	if err := d.RestartKubelet(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Shutdown(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if k := d.Kubelet(); k.Restarts() != 1 || !slices.Equal(k.Shutdowns(), []time.Duration{time.Minute}) {
		t.Fatalf("restarts %d, shutdowns %v", k.Restarts(), k.Shutdowns())
	}
}

func TestDirCustomRuntime(t *testing.T) {
	k := &hosttest.Kubelet{Pods: map[string][]string{"etcd-pod.yaml": {"etcd"}}, ManifestDir: "/srv/manifests"}
	root := t.TempDir()
	k.Root = root
	writeTree(t, root, map[string]string{"srv/manifests/etcd-pod.yaml": ""})
	d := hosttest.NewDir("m", root, hosttest.DirOptions{Runtime: k})
	if d.Kubelet() != nil {
		t.Fatal("Kubelet() is the default runtime only")
	}
	if got := containerNames(t, d, ""); !slices.Equal(got, []string{"etcd/etcd"}) {
		t.Fatalf("containers = %v", got)
	}
}

func TestDirHonoursContext(t *testing.T) {
	d := hosttest.NewDir("master-0", t.TempDir(), hosttest.DirOptions{
		Run: func(context.Context, io.Reader, ...string) ([]byte, error) { return nil, nil },
	})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ops := map[string]func() error{
		"ReadFile":       func() error { _, err := d.ReadFile(ctx, "/a"); return err },
		"WriteFile":      func() error { return d.WriteFile(ctx, "/a", strings.NewReader(""), 0o600) },
		"MkdirAll":       func() error { return d.MkdirAll(ctx, "/a", 0o700) },
		"Containers":     func() error { _, err := d.Containers(ctx, ""); return err },
		"RestartKubelet": func() error { return d.RestartKubelet(ctx) },
		"Shutdown":       func() error { return d.Shutdown(ctx, 0) },
		"Run":            func() error { _, err := d.Run(ctx, nil, "true"); return err },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", name, err)
		}
	}
	if n := d.Kubelet().Restarts() + len(d.Kubelet().Shutdowns()); n != 0 {
		t.Errorf("%d runtime calls recorded after cancellation", n)
	}
}
