package host

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeCommands writes crictl, systemctl, shutdown and sudo scripts into a
// new directory. Each appends its command line to the returned log; crictl
// prints one etcd container; sudo drops "-n" and runs the rest. Put the
// directory first on PATH so the real commands are never reached.
func fakeCommands(t *testing.T) (bin, log string) {
	t.Helper()
	bin = t.TempDir()
	log = filepath.Join(bin, "calls.log")
	scripts := map[string]string{
		"crictl": `cat <<'EOF'
{"containers":[{"id":"c0ffee","metadata":{"name":"etcd"},"state":"CONTAINER_RUNNING","labels":{"io.kubernetes.pod.name":"etcd-master-0"}}]}
EOF`,
		"systemctl": "",
		"shutdown":  "",
		"sudo":      `if [ "$1" = -n ]; then shift; fi; exec "$@"`,
	}
	for name, body := range scripts {
		s := "#!/bin/sh\necho \"" + name + " $*\" >> '" + log + "'\n" + body + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin, log
}

// calls returns the lines of the fake commands' log and empties it.
func calls(t *testing.T, log string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// runHostSuite checks every operation of h, a host whose filesystem is this
// machine's (root "/"), inside dir. Names with spaces, quotes, newlines and
// shell metacharacters check the quoting of the remote hosts. The fake
// commands of fakeCommands must be first on the host's PATH; log is theirs.
// suiteCancelAfter holds, per host, when the suite cancels its long
// commands when not after 300 ms (see RunHostSuite).
var suiteCancelAfter sync.Map

func runHostSuite(t *testing.T, h Host, dir, log string) {
	ctx := context.Background()
	weird := filepath.Join(dir, "it's a \"dir\" $HOME `x` \\ *")
	if err := os.MkdirAll(weird, 0o755); err != nil {
		t.Fatal(err)
	}

	t.Run("WriteFile and ReadFile", func(t *testing.T) {
		p := filepath.Join(weird, "kube'config")
		for i, content := range []string{"first", "second, replacing the first"} {
			if err := h.WriteFile(ctx, p, strings.NewReader(content), 0o640); err != nil {
				t.Fatalf("WriteFile #%d: %v", i+1, err)
			}
			if got := readString(t, p); got != content {
				t.Fatalf("content = %q, want %q", got, content)
			}
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("mode = %v, %v; want 0640", fi.Mode(), err)
		}
		if entries, _ := os.ReadDir(weird); len(entries) != 1 {
			t.Errorf("temporary files left: %v", entries)
		}
		b, err := h.ReadFile(ctx, p)
		if err != nil || string(b) != "second, replacing the first" {
			t.Errorf("ReadFile = %q, %v", b, err)
		}
		if _, err := h.ReadFile(ctx, filepath.Join(weird, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(missing) = %v, want fs.ErrNotExist", err)
		}
		if _, err := h.ReadFile(ctx, weird); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadFile(directory) = %v, want an error other than not-exist", err)
		}
		if err := h.WriteFile(ctx, filepath.Join(dir, "no", "such", "dir", "f"), strings.NewReader("x"), 0o600); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("WriteFile(parent missing) = %v, want fs.ErrNotExist", err)
		}
		if err := h.WriteFile(ctx, "relative/path", strings.NewReader("x"), 0o600); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("WriteFile(relative) = %v, want ErrInvalidPath", err)
		}
		empty := filepath.Join(weird, "empty")
		if err := h.WriteFile(ctx, empty, strings.NewReader(""), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, err := h.ReadFile(ctx, empty); err != nil || len(b) != 0 {
			t.Errorf("ReadFile(empty) = %q, %v", b, err)
		}
		os.Remove(empty)
	})

	t.Run("Open streams", func(t *testing.T) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		p := filepath.Join(dir, "snapshot.db")
		if err := os.WriteFile(p, big, 0o600); err != nil {
			t.Fatal(err)
		}
		rc, err := h.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("read %d bytes, %v; want %d", len(got), err, len(big))
		}
		// Closing early stops the stream and returns.
		rc, err = h.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(rc, make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := h.Open(ctx, p+".missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
		}
	})

	t.Run("Stat and ReadDir", func(t *testing.T) {
		d := filepath.Join(weird, "manifests")
		names := []string{"etcd-pod.yaml", ".hidden", "new\nline", "kube apiserver'pod.yaml", "-dash"}
		if err := os.MkdirAll(filepath.Join(d, "sub dir"), 0o750); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(d, n), []byte(n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("etcd-pod.yaml", filepath.Join(d, "link")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/no/such/target", filepath.Join(d, "dangling")); err != nil {
			t.Fatal(err)
		}
		list, err := h.ReadDir(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, fi := range list {
			got = append(got, fi.Name)
		}
		want := []string{"-dash", ".hidden", "dangling", "etcd-pod.yaml", "kube apiserver'pod.yaml", "link", "new\nline", "sub dir"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ReadDir = %q, want %q", got, want)
		}
		byName := map[string]FileInfo{}
		for _, fi := range list {
			byName[fi.Name] = fi
		}
		if fi := byName["sub dir"]; !fi.IsDir() || fi.Mode.Perm() != 0o750 {
			t.Errorf("sub dir = %+v", fi)
		}
		if fi := byName["etcd-pod.yaml"]; fi.IsDir() || fi.Size != int64(len("etcd-pod.yaml")) || fi.Mode != 0o644 || time.Since(fi.ModTime) > time.Hour {
			t.Errorf("etcd-pod.yaml = %+v", fi)
		}
		if fi := byName["link"]; fi.Mode&fs.ModeSymlink == 0 || fi.LinkTarget != "etcd-pod.yaml" {
			t.Errorf("link = %+v", fi)
		}
		if fi := byName["dangling"]; fi.Mode&fs.ModeSymlink == 0 || fi.LinkTarget != "/no/such/target" {
			t.Errorf("dangling = %+v", fi)
		}

		fi, err := h.Stat(ctx, filepath.Join(d, "kube apiserver'pod.yaml"))
		if err != nil || fi.Name != "kube apiserver'pod.yaml" || fi.Size != int64(len("kube apiserver'pod.yaml")) || fi.IsDir() {
			t.Errorf("Stat(file) = %+v, %v", fi, err)
		}
		fi, err = h.Stat(ctx, filepath.Join(d, "dangling"))
		if err != nil || fi.LinkTarget != "/no/such/target" {
			t.Errorf("Stat(dangling symlink) = %+v, %v", fi, err)
		}
		if fi, err := h.Stat(ctx, d+"/"); err != nil || !fi.IsDir() || fi.Name != "manifests" {
			t.Errorf("Stat(dir/) = %+v, %v", fi, err)
		}
		if _, err := h.Stat(ctx, filepath.Join(d, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(missing) = %v, want fs.ErrNotExist", err)
		}
		if _, err := h.ReadDir(ctx, filepath.Join(d, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadDir(missing) = %v, want fs.ErrNotExist", err)
		}
		if _, err := h.ReadDir(ctx, filepath.Join(d, "etcd-pod.yaml")); err == nil {
			t.Error("ReadDir(file) succeeded")
		}
		emptyDir := filepath.Join(d, "sub dir")
		if list, err := h.ReadDir(ctx, emptyDir); err != nil || len(list) != 0 {
			t.Errorf("ReadDir(empty) = %v, %v", list, err)
		}
	})

	t.Run("MkdirAll", func(t *testing.T) {
		p := filepath.Join(weird, "var", "lib", "etcd-backup")
		for range 2 {
			if err := h.MkdirAll(ctx, p, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("after MkdirAll: %v, %v", fi, err)
		}
	})

	t.Run("Move", func(t *testing.T) {
		base := filepath.Join(weird, "move")
		tests := []struct {
			name     string
			files    []string // created under base before the move
			src, dst string
			wantErr  error
			exists   []string
			gone     []string
		}{
			{name: "file", files: []string{"manifests/etcd-pod.yaml", "backup/"}, src: "manifests/etcd-pod.yaml", dst: "backup/etcd-pod.yaml", exists: []string{"backup/etcd-pod.yaml"}, gone: []string{"manifests/etcd-pod.yaml"}},
			{name: "directory", files: []string{"lib/etcd/member/snap/db", "tmp/"}, src: "lib/etcd", dst: "tmp/etcd", exists: []string{"tmp/etcd/member/snap/db"}, gone: []string{"lib/etcd"}},
			{name: "quoted names", files: []string{"a 'b'/c d", "e \"f\"/"}, src: "a 'b'/c d", dst: "e \"f\"/g $h", exists: []string{"e \"f\"/g $h"}, gone: []string{"a 'b'/c d"}},
			{name: "already moved", files: []string{"tmp/etcd-pod.yaml"}, src: "manifests/etcd-pod.yaml", dst: "tmp/etcd-pod.yaml", exists: []string{"tmp/etcd-pod.yaml"}},
			{name: "both exist", files: []string{"manifests/etcd-pod.yaml", "tmp/etcd-pod.yaml"}, src: "manifests/etcd-pod.yaml", dst: "tmp/etcd-pod.yaml", wantErr: fs.ErrExist, exists: []string{"manifests/etcd-pod.yaml", "tmp/etcd-pod.yaml"}},
			{name: "both exist, directories", files: []string{"lib/etcd/member/", "tmp/etcd/"}, src: "lib/etcd", dst: "tmp/etcd", wantErr: fs.ErrExist, exists: []string{"lib/etcd/member", "tmp/etcd"}, gone: []string{"tmp/etcd/etcd"}},
			{name: "neither exists", files: []string{"tmp/"}, src: "manifests/etcd-pod.yaml", dst: "tmp/etcd-pod.yaml", wantErr: fs.ErrNotExist},
			{name: "destination parent missing", files: []string{"manifests/etcd-pod.yaml"}, src: "manifests/etcd-pod.yaml", dst: "nowhere/etcd-pod.yaml", wantErr: fs.ErrNotExist, exists: []string{"manifests/etcd-pod.yaml"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				os.RemoveAll(base)
				tree(t, base, tt.files...)
				for i := range 2 {
					err := h.Move(ctx, filepath.Join(base, tt.src), filepath.Join(base, tt.dst))
					if tt.wantErr == nil && err != nil {
						t.Fatalf("Move #%d: %v", i+1, err)
					}
					if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
						t.Fatalf("Move #%d = %v, want %v", i+1, err, tt.wantErr)
					}
				}
				for _, p := range tt.exists {
					if _, err := os.Lstat(filepath.Join(base, p)); err != nil {
						t.Errorf("%s: %v", p, err)
					}
				}
				for _, p := range tt.gone {
					if _, err := os.Lstat(filepath.Join(base, p)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s still exists", p)
					}
				}
			})
		}
	})

	t.Run("Run", func(t *testing.T) {
		argv := []string{"printf", "%s|", "a b", "it's", "$HOME", "`id`", "*", "", "new\nline", "\\"}
		out, err := h.Run(ctx, nil, argv...)
		if want := "a b|it's|$HOME|`id`|*||new\nline|\\|"; err != nil || string(out) != want {
			t.Errorf("Run(printf) = %q, %v; want %q", out, err, want)
		}
		out, err = h.Run(ctx, strings.NewReader("through stdin"), "cat")
		if err != nil || string(out) != "through stdin" {
			t.Errorf("Run(cat) = %q, %v", out, err)
		}
		_, err = h.Run(ctx, nil, "sh", "-c", "echo oops >&2; exit 7")
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 7 || strings.TrimSpace(string(ee.Stderr)) != "oops" || ee.Host != h.Name() {
			t.Errorf("Run(exit 7) = %#v", err)
		}
		// A cancelled command is stopped on the host, with its
		// descendants (a subshell's sleep is a grandchild of the shell).
		// It would run for ten minutes by itself, so the wait below
		// cannot pass by the command ending on its own.
		for _, tc := range []struct {
			argv    []string
			sleeper string // pgrep -f pattern of the process that must stop
		}{
			{[]string{"sleep", "600.4817"}, "sleep 600.4817"},
			{[]string{"sh", "-c", "(sleep 600.4818; true) | cat"}, "sleep 600.4818"},
		} {
			argv, sleeper := tc.argv, tc.sleeper
			after := 300 * time.Millisecond
			if v, ok := suiteCancelAfter.Load(h); ok {
				after = v.(time.Duration)
			}
			cctx, cancel := context.WithTimeout(ctx, after)
			start := time.Now()
			if _, err := h.Run(cctx, nil, argv...); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Run(%q) after deadline = %v", argv, err)
			}
			cancel()
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("Run returned %v after the deadline", d)
			}
			// The command itself was stopped on the host (this machine).
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				out, _ := exec.Command("pgrep", "-f", sleeper).Output()
				if len(bytes.TrimSpace(out)) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("cancelled %q still running: pids %s", argv, out)
					_ = exec.Command("pkill", "-f", sleeper).Run()
					break
				}
			}
		}
	})

	t.Run("runtime commands", func(t *testing.T) {
		calls(t, log)
		where, err := h.Run(ctx, nil, "sh", "-c", "command -v crictl systemctl shutdown")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range strings.Fields(string(where)) {
			if filepath.Dir(p) != filepath.Dir(log) {
				t.Fatalf("%s is not the fake command; refusing to run it", p)
			}
		}
		calls(t, log)
		cs, err := h.Containers(ctx, "etcd")
		want := []Container{{ID: "c0ffee", Name: "etcd", Pod: "etcd-master-0", State: "Running"}}
		if err != nil || !reflect.DeepEqual(cs, want) {
			t.Errorf("Containers = %+v, %v", cs, err)
		}
		if err := h.RestartKubelet(ctx); err != nil {
			t.Error(err)
		}
		if err := h.Shutdown(ctx, time.Minute); err != nil {
			t.Error(err)
		}
		var got []string
		for _, c := range calls(t, log) {
			if !strings.HasPrefix(c, "sudo ") {
				got = append(got, c)
			}
		}
		wantCalls := []string{"crictl ps --name etcd -o json", "systemctl restart kubelet.service", "shutdown -h +1"}
		if !reflect.DeepEqual(got, wantCalls) {
			t.Errorf("commands = %q, want %q", got, wantCalls)
		}
	})
}
