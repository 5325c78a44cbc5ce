package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/toolchain"
)

// Versions of the binaries the simulation runs. EnsureBinaries (and
// hack/tools.sh, with the same builder) builds them from pinned tools modules
// embedded in lifeboat into a cache directory named by version.
const (
	EtcdVersion       = "v3.7.3"
	KubernetesVersion = "v1.35.4"
)

// ErrBinariesMissing is returned (wrapped, naming the missing files) by
// FindBinaries when a binary the simulation needs is not installed. Call
// EnsureBinaries (or, in lifeboat's repository, run hack/tools.sh) to build
// them.
var ErrBinariesMissing = errors.New("clustertest: binaries missing (EnsureBinaries builds them)")

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

// FindBinaries locates etcd, etcdctl, etcdutl and kube-apiserver. Each comes
// from its environment variable (LIFEBOAT_ETCD, LIFEBOAT_ETCDCTL,
// LIFEBOAT_ETCDUTL, LIFEBOAT_KUBE_APISERVER) when set, otherwise from the cache
// EnsureBinaries and hack/tools.sh fill:
// ${LIFEBOAT_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/lifeboat}/bin/etcd-v3.7.3/etcd
// (and etcdctl, etcdutl) and .../bin/kube-apiserver-v1.35.4/kube-apiserver.
//
// The paths are returned even when some are missing, together with an error
// wrapping ErrBinariesMissing that names every missing file, so a caller that
// needs only etcd can check the one path it uses.
func FindBinaries() (Binaries, error) {
	cache, err := toolchain.CacheRoot()
	if err != nil {
		return Binaries{}, err
	}
	etcdDir := filepath.Join(cache, "bin", "etcd-"+EtcdVersion)
	kasDir := filepath.Join(cache, "bin", "kube-apiserver-"+KubernetesVersion)
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
// Otherwise it builds what is missing and looks again: etcd, etcdctl and
// etcdutl (about a minute) and kube-apiserver (several minutes on 2 cores)
// are built from tools modules pinned inside lifeboat, which it writes to a
// temporary directory and builds with the go command on PATH (and the module
// proxy), into the cache FindBinaries reads. It works from any module: no
// lifeboat checkout is needed. A binary named by its environment variable
// is never built. The build's output goes to w (nil discards it); ctx
// bounds it; concurrent test processes build once.
func EnsureBinaries(ctx context.Context, w io.Writer) (Binaries, error) {
	b, err := FindBinaries()
	if err == nil || !errors.Is(err, ErrBinariesMissing) {
		return b, err
	}
	root, rerr := toolchain.CacheRoot()
	if rerr != nil {
		return b, rerr
	}
	for _, want := range []struct {
		group string
		paths []string
		envs  []string
	}{
		{"etcd", []string{b.Etcd, b.Etcdctl, b.Etcdutl}, []string{envEtcd, envEtcdctl, envEtcdutl}},
		{"kube-apiserver", []string{b.KubeAPIServer}, []string{envKubeAPIServer}},
	} {
		if !anyMissing(want.paths) || anySet(want.envs) {
			continue
		}
		g, gerr := toolchain.Lookup(want.group)
		if gerr != nil {
			return b, gerr
		}
		if berr := g.Build(ctx, root, w); berr != nil {
			return b, fmt.Errorf("clustertest: %w", berr)
		}
	}
	return FindBinaries()
}

func anyMissing(paths []string) bool {
	for _, p := range paths {
		if checkExecutable(p) != nil {
			return true
		}
	}
	return false
}

func anySet(envs []string) bool {
	for _, e := range envs {
		if os.Getenv(e) != "" {
			return true
		}
	}
	return false
}
