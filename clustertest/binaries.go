package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Versions of the binaries the simulation runs. hack/tools.sh builds them from
// the pinned tools modules under tools/ into a cache directory named by
// version.
const (
	EtcdVersion       = "v3.7.3"
	kubernetesVersion = "v1.35.4"
)

// ErrBinariesMissing is returned (wrapped, naming the missing files) by
// FindBinaries when a binary the simulation needs is not installed. Run
// hack/tools.sh, or call EnsureBinaries, to build them.
var ErrBinariesMissing = errors.New("clustertest: binaries missing (run hack/tools.sh to build them)")

// Binaries are the paths of the executables the simulation runs.
type Binaries struct {
	Etcd          string
	Etcdctl       string
	Etcdutl       string
	KubeAPIServer string
}

// Environment variables that override where binaries are found.
const (
	envEtcd          = "LIFEBOAT_ETCD"
	envEtcdctl       = "LIFEBOAT_ETCDCTL"
	envEtcdutl       = "LIFEBOAT_ETCDUTL"
	envKubeAPIServer = "LIFEBOAT_KUBE_APISERVER"
	envCacheDir      = "LIFEBOAT_CACHE_DIR"
)

// binaryCacheDir is where hack/tools.sh puts binaries:
// ${LIFEBOAT_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/lifeboat}/bin.
func binaryCacheDir() (string, error) {
	if d := os.Getenv(envCacheDir); d != "" {
		return filepath.Join(d, "bin"), nil
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("clustertest: locating the binary cache: %w", err)
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "lifeboat", "bin"), nil
}

// FindBinaries locates etcd, etcdctl, etcdutl and kube-apiserver. Each comes
// from its environment variable (LIFEBOAT_ETCD, LIFEBOAT_ETCDCTL,
// LIFEBOAT_ETCDUTL, LIFEBOAT_KUBE_APISERVER) when set, otherwise from the cache
// hack/tools.sh fills:
// ${LIFEBOAT_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/lifeboat}/bin/etcd-v3.7.3/etcd
// (and etcdctl, etcdutl) and .../bin/kube-apiserver-v1.35.4/kube-apiserver.
//
// The paths are returned even when some are missing, together with an error
// wrapping ErrBinariesMissing that names every missing file, so a caller that
// needs only etcd can check the one path it uses.
func FindBinaries() (Binaries, error) {
	cache, err := binaryCacheDir()
	if err != nil {
		return Binaries{}, err
	}
	etcdDir := filepath.Join(cache, "etcd-"+EtcdVersion)
	kasDir := filepath.Join(cache, "kube-apiserver-"+kubernetesVersion)
	pick := func(env, def string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		return def
	}
	b := Binaries{
		Etcd:          pick(envEtcd, filepath.Join(etcdDir, "etcd")),
		Etcdctl:       pick(envEtcdctl, filepath.Join(etcdDir, "etcdctl")),
		Etcdutl:       pick(envEtcdutl, filepath.Join(etcdDir, "etcdutl")),
		KubeAPIServer: pick(envKubeAPIServer, filepath.Join(kasDir, "kube-apiserver")),
	}
	var missing []string
	for _, p := range []struct{ env, path string }{
		{envEtcd, b.Etcd}, {envEtcdctl, b.Etcdctl}, {envEtcdutl, b.Etcdutl}, {envKubeAPIServer, b.KubeAPIServer},
	} {
		if err := checkExecutable(p.path); err != nil {
			missing = append(missing, fmt.Sprintf("%s (%s): %v", p.path, p.env, err))
		}
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("%w: %s", ErrBinariesMissing, strings.Join(missing, "; "))
	}
	return b, nil
}

// checkExecutable reports whether path is a regular file with an execute bit.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("not found")
		}
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not executable")
	}
	return nil
}

// EnsureBinaries returns FindBinaries' result if every binary is present.
// Otherwise it runs hack/tools.sh, found by walking up from the working
// directory to the lifeboat module root, streaming the script's output to w
// (nil discards it), and looks again. Building kube-apiserver the first time
// takes several minutes; ctx bounds the build.
func EnsureBinaries(ctx context.Context, w io.Writer) (Binaries, error) {
	b, err := FindBinaries()
	if err == nil || !errors.Is(err, ErrBinariesMissing) {
		return b, err
	}
	script, ferr := findToolsScript()
	if ferr != nil {
		return b, fmt.Errorf("%w; %v", err, ferr)
	}
	if w == nil {
		w = io.Discard
	}
	cmd := exec.CommandContext(ctx, script)
	cmd.Stdout = w
	cmd.Stderr = w
	if rerr := cmd.Run(); rerr != nil {
		return b, fmt.Errorf("clustertest: running %s: %w", script, rerr)
	}
	return FindBinaries()
}

// findToolsScript walks up from the working directory to the directory whose
// go.mod declares the lifeboat module and returns its hack/tools.sh.
func findToolsScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("clustertest: finding hack/tools.sh: %w", err)
	}
	for {
		script := filepath.Join(dir, "hack", "tools.sh")
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(data), "module github.com/lifeboat-dev/lifeboat\n") {
			if _, err := os.Stat(script); err != nil {
				return "", fmt.Errorf("clustertest: finding hack/tools.sh: %w", err)
			}
			return script, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("clustertest: hack/tools.sh not found above the working directory (not inside the lifeboat module)")
		}
		dir = parent
	}
}
