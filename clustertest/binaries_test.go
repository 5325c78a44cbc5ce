package clustertest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/toolchain"
)

// fakeBinary writes an executable (or not) file at path.
func fakeBinary(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func clearBinaryEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{envEtcd, envEtcdctl, envEtcdutl, envKubeAPIServer, envCacheDir, "XDG_CACHE_HOME"} {
		t.Setenv(k, "")
	}
}

func TestFindBinaries(t *testing.T) {
	tests := []struct {
		name string
		// setup creates files and sets the environment; it returns the
		// expected Binaries.
		setup       func(t *testing.T, dir string) Binaries
		wantMissing []string // substrings of the error; nil means no error
	}{
		{
			name: "LIFEBOAT_CACHE_DIR",
			setup: func(t *testing.T, dir string) Binaries {
				t.Setenv(envCacheDir, dir)
				b := Binaries{
					Etcd:          filepath.Join(dir, "bin", "etcd-v3.7.3", "etcd"),
					Etcdctl:       filepath.Join(dir, "bin", "etcd-v3.7.3", "etcdctl"),
					Etcdutl:       filepath.Join(dir, "bin", "etcd-v3.7.3", "etcdutl"),
					KubeAPIServer: filepath.Join(dir, "bin", "kube-apiserver-v1.35.4", "kube-apiserver"),
				}
				for _, p := range []string{b.Etcd, b.Etcdctl, b.Etcdutl, b.KubeAPIServer} {
					fakeBinary(t, p, 0o755)
				}
				return b
			},
		},
		{
			name: "XDG_CACHE_HOME",
			setup: func(t *testing.T, dir string) Binaries {
				t.Setenv("XDG_CACHE_HOME", dir)
				b := Binaries{
					Etcd:          filepath.Join(dir, "lifeboat", "bin", "etcd-v3.7.3", "etcd"),
					Etcdctl:       filepath.Join(dir, "lifeboat", "bin", "etcd-v3.7.3", "etcdctl"),
					Etcdutl:       filepath.Join(dir, "lifeboat", "bin", "etcd-v3.7.3", "etcdutl"),
					KubeAPIServer: filepath.Join(dir, "lifeboat", "bin", "kube-apiserver-v1.35.4", "kube-apiserver"),
				}
				for _, p := range []string{b.Etcd, b.Etcdctl, b.Etcdutl, b.KubeAPIServer} {
					fakeBinary(t, p, 0o755)
				}
				return b
			},
		},
		{
			name: "HOME fallback",
			setup: func(t *testing.T, dir string) Binaries {
				t.Setenv("HOME", dir)
				base := filepath.Join(dir, ".cache", "lifeboat", "bin")
				b := Binaries{
					Etcd:          filepath.Join(base, "etcd-v3.7.3", "etcd"),
					Etcdctl:       filepath.Join(base, "etcd-v3.7.3", "etcdctl"),
					Etcdutl:       filepath.Join(base, "etcd-v3.7.3", "etcdutl"),
					KubeAPIServer: filepath.Join(base, "kube-apiserver-v1.35.4", "kube-apiserver"),
				}
				for _, p := range []string{b.Etcd, b.Etcdctl, b.Etcdutl, b.KubeAPIServer} {
					fakeBinary(t, p, 0o755)
				}
				return b
			},
		},
		{
			name: "variables override the cache",
			setup: func(t *testing.T, dir string) Binaries {
				t.Setenv(envCacheDir, filepath.Join(dir, "empty-cache"))
				b := Binaries{
					Etcd:          filepath.Join(dir, "my", "etcd"),
					Etcdctl:       filepath.Join(dir, "my", "etcdctl"),
					Etcdutl:       filepath.Join(dir, "my", "etcdutl"),
					KubeAPIServer: filepath.Join(dir, "my", "kas"),
				}
				for env, p := range map[string]string{envEtcd: b.Etcd, envEtcdctl: b.Etcdctl, envEtcdutl: b.Etcdutl, envKubeAPIServer: b.KubeAPIServer} {
					fakeBinary(t, p, 0o755)
					t.Setenv(env, p)
				}
				return b
			},
		},
		{
			name: "missing and not executable",
			setup: func(t *testing.T, dir string) Binaries {
				t.Setenv(envCacheDir, dir)
				etcdDir := filepath.Join(dir, "bin", "etcd-v3.7.3")
				b := Binaries{
					Etcd:          filepath.Join(etcdDir, "etcd"),
					Etcdctl:       filepath.Join(etcdDir, "etcdctl"),
					Etcdutl:       filepath.Join(etcdDir, "etcdutl"),
					KubeAPIServer: filepath.Join(dir, "bin", "kube-apiserver-v1.35.4", "kube-apiserver"),
				}
				fakeBinary(t, b.Etcd, 0o755)
				fakeBinary(t, b.Etcdctl, 0o644)
				fakeBinary(t, b.Etcdutl, 0o755)
				return b
			},
			wantMissing: []string{"EnsureBinaries builds them", "etcdctl (LIFEBOAT_ETCDCTL): not executable", "kube-apiserver (LIFEBOAT_KUBE_APISERVER): not found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearBinaryEnv(t)
			want := tt.setup(t, t.TempDir())
			got, err := FindBinaries()
			if got != want {
				t.Errorf("FindBinaries() = %+v, want %+v", got, want)
			}
			if tt.wantMissing == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrBinariesMissing) {
				t.Fatalf("err = %v, want ErrBinariesMissing", err)
			}
			for _, s := range tt.wantMissing {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "etcdutl") {
				t.Errorf("error %q names a binary that is present", err)
			}
		})
	}
}

func TestEnsureBinariesPresent(t *testing.T) {
	clearBinaryEnv(t)
	dir := t.TempDir()
	for env, name := range map[string]string{envEtcd: "etcd", envEtcdctl: "etcdctl", envEtcdutl: "etcdutl", envKubeAPIServer: "kas"} {
		p := filepath.Join(dir, name)
		fakeBinary(t, p, 0o755)
		t.Setenv(env, p)
	}
	var out bytes.Buffer
	b, err := EnsureBinaries(t.Context(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if b.Etcd != filepath.Join(dir, "etcd") || out.Len() != 0 {
		t.Fatalf("got %+v, script output %q; want the variables' binaries and no build", b, out.String())
	}
}

// fakeGo puts a "go" command first on PATH that, for "go build -o OUT PKG",
// records the package and the module it was run in, and writes an
// executable at OUT, or fails when fail is set.
func fakeGo(t *testing.T, fail bool) (log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "log")
	exit := "0"
	if fail {
		exit = "1"
	}
	script := `#!/bin/sh
out=; pkg=
while [ $# -gt 0 ]; do
  case $1 in -o) out=$2; shift ;; build|-trimpath) ;; *) pkg=$1 ;; esac
  shift
done
echo "$pkg $(head -1 go.mod) $GOFLAGS" >> ` + log + `
[ ` + exit + ` = 0 ] || { echo "fake go: build failed" >&2; exit 1; }
mkdir -p "$(dirname "$out")" && printf '#!/bin/sh\n' > "$out" && chmod +x "$out"
`
	fakeBinary(t, filepath.Join(dir, "bin", "go"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "bin", "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return log
}

// Without binaries and without lifeboat's repository (the working directory
// is a throwaway one), EnsureBinaries writes the pinned tools modules
// itself and builds each missing binary into the cache by version.
func TestEnsureBinariesBuildsFromAnyModule(t *testing.T) {
	clearBinaryEnv(t)
	cache := t.TempDir()
	t.Setenv(envCacheDir, cache)
	t.Chdir(t.TempDir())
	log := fakeGo(t, false)
	var out bytes.Buffer
	b, err := EnsureBinaries(t.Context(), &out)
	if err != nil {
		t.Fatalf("EnsureBinaries: %v (output %q)", err, out.String())
	}
	if want := filepath.Join(cache, "bin", "kube-apiserver-"+KubernetesVersion, "kube-apiserver"); b.KubeAPIServer != want {
		t.Errorf("KubeAPIServer = %s, want %s", b.KubeAPIServer, want)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"go.etcd.io/etcd/server/v3 module github.com/lifeboat-dev/lifeboat/tools/etcd -mod=mod",
		"go.etcd.io/etcd/etcdctl/v3 module",
		"go.etcd.io/etcd/etcdutl/v3 module",
		"k8s.io/kubernetes/cmd/kube-apiserver module github.com/lifeboat-dev/lifeboat/tools/kube-apiserver",
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("builds %q do not include %q", got, want)
		}
	}
	if !strings.Contains(out.String(), "building etcd "+EtcdVersion) {
		t.Errorf("output %q does not say what it builds", out.String())
	}

	// Once built, nothing is built again.
	os.Remove(log)
	if _, err := EnsureBinaries(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(log); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("built again: %v", err)
	}
}

// A failed build reports the failure, says what is missing, and leaves no
// half-built directory in the cache.
func TestEnsureBinariesBuildFails(t *testing.T) {
	clearBinaryEnv(t)
	cache := t.TempDir()
	t.Setenv(envCacheDir, cache)
	fakeGo(t, true)
	var out bytes.Buffer
	_, err := EnsureBinaries(t.Context(), &out)
	if err == nil || !strings.Contains(err.Error(), "building etcd") {
		t.Fatalf("err = %v, want a failed etcd build", err)
	}
	if !strings.Contains(out.String(), "fake go: build failed") {
		t.Errorf("the go command's output %q was not passed on", out.String())
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "bin"))
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("cache holds %s after a failed build", e.Name())
		}
	}
}

// The versions clustertest documents are the versions its tools modules pin.
func TestVersionsArePinned(t *testing.T) {
	for group, want := range map[string]string{"etcd": EtcdVersion, "kube-apiserver": KubernetesVersion} {
		g, err := toolchain.Lookup(group)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := g.Version(); err != nil || v != want {
			t.Errorf("%s module pins %q (%v), clustertest says %q", group, v, err, want)
		}
	}
}
