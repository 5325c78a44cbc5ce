package clustertest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
			wantMissing: []string{"hack/tools.sh", "etcdctl (LIFEBOAT_ETCDCTL): not executable", "kube-apiserver (LIFEBOAT_KUBE_APISERVER): not found"},
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

// With every variable pointing at a missing file, hack/tools.sh builds
// nothing (variables mean "use these"), so EnsureBinaries runs the real
// script cheaply, streams its output, and still reports what is missing.
func TestEnsureBinariesRunsToolsScript(t *testing.T) {
	clearBinaryEnv(t)
	dir := t.TempDir()
	for env, name := range map[string]string{envEtcd: "etcd", envEtcdctl: "etcdctl", envEtcdutl: "etcdutl", envKubeAPIServer: "kas"} {
		t.Setenv(env, filepath.Join(dir, name))
	}
	var out bytes.Buffer
	_, err := EnsureBinaries(t.Context(), &out)
	if !errors.Is(err, ErrBinariesMissing) {
		t.Fatalf("err = %v, want ErrBinariesMissing", err)
	}
	if want := "LIFEBOAT_ETCD=" + filepath.Join(dir, "etcd"); !strings.Contains(out.String(), want) {
		t.Fatalf("script output %q does not contain %q", out.String(), want)
	}
}

func TestFindToolsScript(t *testing.T) {
	script, err := findToolsScript()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(filepath.Dir(wd), "hack", "tools.sh"); script != want {
		t.Fatalf("findToolsScript() = %s, want %s", script, want)
	}

	t.Chdir(t.TempDir())
	if _, err := findToolsScript(); err == nil {
		t.Fatal("found hack/tools.sh outside the module")
	}
}
