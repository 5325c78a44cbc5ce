package host

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// tree creates files under root: a name ending in "/" is a directory,
// "name -> target" is a symlink, anything else a file with its own name as
// content.
func tree(t *testing.T, root string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		if name, target, ok := strings.Cut(e, " -> "); ok {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		p := filepath.Join(root, e)
		if strings.HasSuffix(e, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(e), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHostRel(t *testing.T) {
	tests := []struct {
		name, in, want string
		invalid        bool
	}{
		{name: "root", in: "/", want: "."},
		{name: "plain", in: "/var/lib/etcd", want: "var/lib/etcd"},
		{name: "trailing slash", in: "/var/lib/etcd/", want: "var/lib/etcd"},
		{name: "dot and double slash", in: "/var//lib/./etcd", want: "var/lib/etcd"},
		{name: "dot file", in: "/.kube/config", want: ".kube/config"},
		{name: "dots in a name", in: "/tmp/a..b", want: "tmp/a..b"},
		{name: "relative", in: "var/lib/etcd", invalid: true},
		{name: "empty", in: "", invalid: true},
		{name: "dotdot at top", in: "/../etc/passwd", invalid: true},
		{name: "dotdot inside", in: "/var/lib/../../etc", invalid: true},
		{name: "dotdot at end", in: "/var/..", invalid: true},
		{name: "nul byte", in: "/var/lib\x00/etcd", invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := hostRel("test", tt.in)
			if tt.invalid {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("hostRel(%q) = %q, %v; want ErrInvalidPath", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("hostRel(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestLocalPath(t *testing.T) {
	root := t.TempDir()
	h := NewLocal("master-0", root, LocalOptions{})
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{name: "root", in: "/", want: root, ok: true},
		{name: "manifest", in: "/etc/kubernetes/manifests/etcd-pod.yaml", want: filepath.Join(root, "etc/kubernetes/manifests/etcd-pod.yaml"), ok: true},
		{name: "escape", in: "/../../etc/passwd"},
		{name: "relative", in: "etc/passwd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := h.LocalPath(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("LocalPath(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
	if got, _ := NewLocal("self", "/", LocalOptions{}).LocalPath("/var/lib/etcd"); got != "/var/lib/etcd" {
		t.Errorf("root / LocalPath = %q, want /var/lib/etcd", got)
	}
}

// TestLocalStaysInRoot checks that no operation reaches outside the root,
// by ".." or through a symlink.
func TestLocalStaysInRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "host")
	outside := filepath.Join(base, "outside")
	tree(t, base, "outside/secret", "host/etc/kubernetes/manifests/etcd-pod.yaml")
	tree(t, root,
		"etc/abs -> "+outside,
		"etc/rel -> ../../outside",
		"etc/inside -> kubernetes/manifests",
	)
	h := NewLocal("master-0", root, LocalOptions{})
	ctx := context.Background()

	escapes := []struct {
		name string
		op   func() error
	}{
		{"read dotdot", func() error { _, err := h.ReadFile(ctx, "/../outside/secret"); return err }},
		{"read abs symlink", func() error { _, err := h.ReadFile(ctx, "/etc/abs/secret"); return err }},
		{"read rel symlink", func() error { _, err := h.ReadFile(ctx, "/etc/rel/secret"); return err }},
		{"write through symlink", func() error {
			return h.WriteFile(ctx, "/etc/rel/new", strings.NewReader("x"), 0o644)
		}},
		{"move into symlink", func() error {
			return h.Move(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", "/etc/rel/etcd-pod.yaml")
		}},
		{"move out of symlink", func() error { return h.Move(ctx, "/etc/abs/secret", "/stolen") }},
		{"mkdir through symlink", func() error { return h.MkdirAll(ctx, "/etc/rel/dir", 0o755) }},
		{"readdir through symlink", func() error { _, err := h.ReadDir(ctx, "/etc/abs"); return err }},
	}
	for _, tt := range escapes {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); err == nil {
				t.Fatal("operation outside the root succeeded")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("file written outside the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "dir")); err == nil {
		t.Error("directory made outside the root")
	}
	if got := readString(t, filepath.Join(outside, "secret")); got != "outside/secret" {
		t.Errorf("outside file changed: %q", got)
	}
	// A symlink that stays inside the root is followed.
	b, err := h.ReadFile(ctx, "/etc/inside/etcd-pod.yaml")
	if err != nil || string(b) != "host/etc/kubernetes/manifests/etcd-pod.yaml" {
		t.Fatalf("reading through an inside symlink: %q, %v", b, err)
	}
	// The symlink itself is described, not followed, by Stat.
	fi, err := h.Stat(ctx, "/etc/abs")
	if err != nil || fi.Mode&fs.ModeSymlink == 0 || fi.LinkTarget != outside {
		t.Fatalf("Stat(/etc/abs) = %+v, %v", fi, err)
	}
}

func TestLocalMove(t *testing.T) {
	tests := []struct {
		name     string
		entries  []string
		src, dst string
		wantErr  error
		// after the move: paths that must exist (with content for files) and
		// paths that must not.
		present map[string]string
		absent  []string
	}{
		{
			name:    "file",
			entries: []string{"etc/kubernetes/manifests/etcd-pod.yaml", "var/lib/etcd-backup/"},
			src:     "/etc/kubernetes/manifests/etcd-pod.yaml", dst: "/var/lib/etcd-backup/etcd-pod.yaml",
			present: map[string]string{"var/lib/etcd-backup/etcd-pod.yaml": "etc/kubernetes/manifests/etcd-pod.yaml"},
			absent:  []string{"etc/kubernetes/manifests/etcd-pod.yaml"},
		},
		{
			name:    "directory",
			entries: []string{"var/lib/etcd/member/snap/db", "var/lib/etcd/member/wal/0.wal", "tmp/"},
			src:     "/var/lib/etcd", dst: "/tmp/etcd",
			present: map[string]string{"tmp/etcd/member/snap/db": "var/lib/etcd/member/snap/db", "tmp/etcd/member/wal/0.wal": "var/lib/etcd/member/wal/0.wal"},
			absent:  []string{"var/lib/etcd"},
		},
		{
			name:    "directory with trailing slash",
			entries: []string{"var/lib/etcd/member/snap/db", "tmp/"},
			src:     "/var/lib/etcd/", dst: "/tmp/etcd",
			present: map[string]string{"tmp/etcd/member/snap/db": "var/lib/etcd/member/snap/db"},
			absent:  []string{"var/lib/etcd"},
		},
		{
			name:    "already moved",
			entries: []string{"tmp/etcd-pod.yaml"},
			src:     "/etc/kubernetes/manifests/etcd-pod.yaml", dst: "/tmp/etcd-pod.yaml",
			present: map[string]string{"tmp/etcd-pod.yaml": "tmp/etcd-pod.yaml"},
		},
		{
			name:    "both exist",
			entries: []string{"etc/kubernetes/manifests/etcd-pod.yaml", "tmp/etcd-pod.yaml"},
			src:     "/etc/kubernetes/manifests/etcd-pod.yaml", dst: "/tmp/etcd-pod.yaml",
			wantErr: fs.ErrExist,
			present: map[string]string{"etc/kubernetes/manifests/etcd-pod.yaml": "etc/kubernetes/manifests/etcd-pod.yaml", "tmp/etcd-pod.yaml": "tmp/etcd-pod.yaml"},
		},
		{
			name:    "both exist, directories",
			entries: []string{"var/lib/etcd/member/snap/db", "tmp/etcd/"},
			src:     "/var/lib/etcd", dst: "/tmp/etcd",
			wantErr: fs.ErrExist,
			present: map[string]string{"var/lib/etcd/member/snap/db": "var/lib/etcd/member/snap/db"},
		},
		{
			name:    "neither exists",
			entries: []string{"tmp/"},
			src:     "/etc/kubernetes/manifests/etcd-pod.yaml", dst: "/tmp/etcd-pod.yaml",
			wantErr: fs.ErrNotExist,
			absent:  []string{"tmp/etcd-pod.yaml"},
		},
		{
			name:    "destination parent missing",
			entries: []string{"etc/kubernetes/manifests/etcd-pod.yaml"},
			src:     "/etc/kubernetes/manifests/etcd-pod.yaml", dst: "/var/lib/etcd-backup/etcd-pod.yaml",
			wantErr: fs.ErrNotExist,
			present: map[string]string{"etc/kubernetes/manifests/etcd-pod.yaml": "etc/kubernetes/manifests/etcd-pod.yaml"},
		},
		{
			name:    "dangling symlink is moved, not followed",
			entries: []string{"etc/link -> /nowhere", "tmp/"},
			src:     "/etc/link", dst: "/tmp/link",
			absent: []string{"etc/link"},
		},
		{
			name:    "invalid path",
			entries: []string{"tmp/"},
			src:     "/tmp/../etc", dst: "/tmp/x",
			wantErr: ErrInvalidPath,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tree(t, root, tt.entries...)
			h := NewLocal("master-0", root, LocalOptions{})
			// Twice: a successful move is idempotent.
			for i := range 2 {
				err := h.Move(context.Background(), tt.src, tt.dst)
				if tt.wantErr == nil && err != nil {
					t.Fatalf("Move #%d: %v", i+1, err)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("Move #%d = %v, want an error wrapping %v", i+1, err, tt.wantErr)
				}
			}
			for p, content := range tt.present {
				if got := readString(t, filepath.Join(root, p)); got != content {
					t.Errorf("%s = %q, want %q", p, got, content)
				}
			}
			for _, p := range tt.absent {
				if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s still exists (%v)", p, err)
				}
			}
		})
	}
}

// TestMoveByCopy exercises the cross-filesystem fallback of Move directly
// (a second filesystem is not available to tests).
func TestMoveByCopy(t *testing.T) {
	root := t.TempDir()
	tree(t, root, "var/lib/etcd/member/snap/db", "var/lib/etcd/member/wal/0.wal", "var/lib/etcd/link -> member/snap/db", "var/lib/etcd/empty/", "tmp/")
	if err := os.Chmod(filepath.Join(root, "var/lib/etcd/member/snap/db"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "var/lib/etcd"), 0o700); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2020, 7, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "var/lib/etcd/member/wal/0.wal"), old, old); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := moveByCopy(context.Background(), r, "var/lib/etcd", "tmp/etcd"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "var/lib/etcd")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("source still exists: %v", err)
	}
	checks := []struct {
		path string
		mode fs.FileMode
	}{
		{"tmp/etcd", fs.ModeDir | 0o700},
		{"tmp/etcd/member/snap/db", 0o600},
		{"tmp/etcd/member/wal/0.wal", 0o644},
		{"tmp/etcd/empty", fs.ModeDir | 0o755},
		{"tmp/etcd/link", fs.ModeSymlink | 0o777},
	}
	for _, c := range checks {
		fi, err := os.Lstat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if fi.Mode() != c.mode {
			t.Errorf("%s mode = %v, want %v", c.path, fi.Mode(), c.mode)
		}
	}
	if got := readString(t, filepath.Join(root, "tmp/etcd/link")); got != "var/lib/etcd/member/snap/db" {
		t.Errorf("content through copied symlink = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(root, "tmp/etcd/member/wal/0.wal")); err != nil || !fi.ModTime().Equal(old) {
		t.Errorf("modification time not kept: %v, %v", fi.ModTime(), err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "tmp")); len(entries) != 1 {
		t.Errorf("temporary copies left in /tmp: %v", entries)
	}

	// A failed copy leaves the source alone and no partial copy behind.
	tree(t, root, "src/a", "src/b")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := moveByCopy(ctx, r, "src", "tmp/src"); !errors.Is(err, context.Canceled) {
		t.Fatalf("moveByCopy with cancelled ctx = %v", err)
	}
	if got := readString(t, filepath.Join(root, "src/a")); got != "src/a" {
		t.Errorf("source changed: %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "tmp")); len(entries) != 1 {
		t.Errorf("partial copy left in /tmp: %v", entries)
	}
}

func TestLocalWriteFile(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		path    string
		perm    fs.FileMode
		wantErr error
	}{
		{name: "new file", entries: []string{"etc/kubernetes/"}, path: "/etc/kubernetes/kubeconfig", perm: 0o600},
		{name: "replace existing", entries: []string{"etc/kubernetes/kubeconfig"}, path: "/etc/kubernetes/kubeconfig", perm: 0o644},
		{name: "parent missing", path: "/etc/kubernetes/kubeconfig", perm: 0o600, wantErr: fs.ErrNotExist},
		{name: "root", path: "/", perm: 0o600, wantErr: nil},
		{name: "invalid", path: "/etc/../x", perm: 0o600, wantErr: ErrInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tree(t, root, tt.entries...)
			h := NewLocal("master-0", root, LocalOptions{})
			err := h.WriteFile(context.Background(), tt.path, strings.NewReader("new content"), tt.perm)
			if tt.path == "/" {
				if err == nil {
					t.Fatal("writing / succeeded")
				}
				return
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("WriteFile = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			local, _ := h.LocalPath(tt.path)
			if got := readString(t, local); got != "new content" {
				t.Errorf("content = %q", got)
			}
			fi, err := os.Stat(local)
			if err != nil || fi.Mode().Perm() != tt.perm {
				t.Errorf("mode = %v, %v; want %v", fi.Mode().Perm(), err, tt.perm)
			}
			entries, _ := os.ReadDir(filepath.Dir(local))
			if len(entries) != 1 {
				t.Errorf("temporary files left beside %s: %v", local, entries)
			}
		})
	}
}

// failingReader returns some data, then an error, like a stream that breaks.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		r.n = 0
		return copy(p, "partial"), nil
	}
	return 0, errors.New("stream broke")
}

func TestLocalWriteFileKeepsOldOnFailure(t *testing.T) {
	root := t.TempDir()
	tree(t, root, "etc/kubernetes/kubeconfig")
	h := NewLocal("master-0", root, LocalOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cases := map[string]struct {
		ctx context.Context
		r   io.Reader
	}{
		"broken stream":     {context.Background(), &failingReader{n: 1}},
		"cancelled context": {ctx, strings.NewReader("new")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if err := h.WriteFile(c.ctx, "/etc/kubernetes/kubeconfig", c.r, 0o600); err == nil {
				t.Fatal("WriteFile succeeded")
			}
			if got := readString(t, filepath.Join(root, "etc/kubernetes/kubeconfig")); got != "etc/kubernetes/kubeconfig" {
				t.Errorf("old content replaced by %q", got)
			}
			if entries, _ := os.ReadDir(filepath.Join(root, "etc/kubernetes")); len(entries) != 1 {
				t.Errorf("temporary files left: %v", entries)
			}
		})
	}
}

func TestLocalReadStatReadDir(t *testing.T) {
	root := t.TempDir()
	tree(t, root,
		"etc/kubernetes/manifests/kube-scheduler-pod.yaml",
		"etc/kubernetes/manifests/etcd-pod.yaml",
		"etc/kubernetes/manifests/kube-apiserver-pod.yaml",
		"etc/kubernetes/manifests/static-pod-resources/",
		"etc/kubernetes/manifests/current -> etcd-pod.yaml",
	)
	h := NewLocal("master-0", root, LocalOptions{})
	ctx := context.Background()

	b, err := h.ReadFile(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml")
	if err != nil || string(b) != "etc/kubernetes/manifests/etcd-pod.yaml" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if _, err := h.ReadFile(ctx, "/etc/kubernetes/manifests/missing.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := h.ReadFile(ctx, "/etc/kubernetes"); err == nil {
		t.Error("ReadFile(directory) succeeded")
	}

	list, err := h.ReadDir(ctx, "/etc/kubernetes/manifests")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, fi := range list {
		names = append(names, fi.Name)
	}
	want := []string{"current", "etcd-pod.yaml", "kube-apiserver-pod.yaml", "kube-scheduler-pod.yaml", "static-pod-resources"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("ReadDir names = %v, want %v", names, want)
	}
	if !sort.StringsAreSorted(names) {
		t.Error("not sorted")
	}
	if !list[4].IsDir() || list[1].IsDir() || list[1].Size != int64(len("etc/kubernetes/manifests/etcd-pod.yaml")) {
		t.Errorf("entries described wrongly: %+v", list)
	}
	if list[0].Mode&fs.ModeSymlink == 0 || list[0].LinkTarget != "etcd-pod.yaml" {
		t.Errorf("symlink entry = %+v", list[0])
	}
	if _, err := h.ReadDir(ctx, "/etc/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir(missing) = %v, want fs.ErrNotExist", err)
	}

	fi, err := h.Stat(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml")
	if err != nil || fi.Name != "etcd-pod.yaml" || fi.IsDir() || fi.ModTime.IsZero() {
		t.Errorf("Stat = %+v, %v", fi, err)
	}
	if _, err := h.Stat(ctx, "/var/lib/etcd"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) = %v, want fs.ErrNotExist", err)
	}

	if err := h.MkdirAll(ctx, "/var/lib/etcd-backup/a/b", 0o700); err != nil {
		t.Fatal(err)
	}
	if fi, err := h.Stat(ctx, "/var/lib/etcd-backup/a/b"); err != nil || !fi.IsDir() {
		t.Errorf("after MkdirAll: %+v, %v", fi, err)
	}
	if err := h.MkdirAll(ctx, "/var/lib/etcd-backup/a/b", 0o700); err != nil {
		t.Errorf("MkdirAll on an existing directory: %v", err)
	}
}

func TestLocalRealRoot(t *testing.T) {
	dir := t.TempDir() // an absolute path on this machine
	h := NewLocal("self", "/", LocalOptions{})
	ctx := context.Background()
	if err := h.WriteFile(ctx, dir+"/a", strings.NewReader("a"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := h.Move(ctx, dir+"/a", dir+"/b"); err != nil {
		t.Fatal(err)
	}
	b, err := h.ReadFile(ctx, dir+"/b")
	if err != nil || string(b) != "a" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	if fi, err := h.Stat(ctx, "/"); err != nil || !fi.IsDir() {
		t.Errorf("Stat(/) = %+v, %v", fi, err)
	}
}

func TestLocalCancelledContext(t *testing.T) {
	root := t.TempDir()
	tree(t, root, "etc/a")
	h := NewLocal("master-0", root, LocalOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ops := map[string]func() error{
		"ReadFile": func() error { _, err := h.ReadFile(ctx, "/etc/a"); return err },
		"Stat":     func() error { _, err := h.Stat(ctx, "/etc/a"); return err },
		"ReadDir":  func() error { _, err := h.ReadDir(ctx, "/etc"); return err },
		"MkdirAll": func() error { return h.MkdirAll(ctx, "/etc/b", 0o755) },
		"Move":     func() error { return h.Move(ctx, "/etc/a", "/etc/c") },
		"Run":      func() error { _, err := h.Run(ctx, nil, "true"); return err },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			if err := op(); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s = %v, want context.Canceled", name, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, "etc/a")); err != nil {
		t.Errorf("Move ran despite the cancelled context: %v", err)
	}
}

func TestNewLocalRelativeRoot(t *testing.T) {
	t.Chdir(t.TempDir())
	h := NewLocal("master-0", "hosts/master-0", LocalOptions{})
	wd, _ := os.Getwd()
	if got, want := h.Root(), filepath.Join(wd, "hosts/master-0"); got != want {
		t.Errorf("Root = %q, want %q", got, want)
	}
	if got, _ := h.LocalPath("/var/lib/etcd"); !filepath.IsAbs(got) {
		t.Errorf("LocalPath = %q, want an absolute path", got)
	}
	if NewLocal("x", "", LocalOptions{}).Root() != "/" {
		t.Error(`root "" is not "/"`)
	}
}
