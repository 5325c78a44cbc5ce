package realnode

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/internal/toolchain"
)

// Versions of the binaries hack/tools.sh realnode builds (the kubelet from
// the kube-apiserver tools module, so at clustertest.KubernetesVersion).
const (
	kubeletVersion = clustertest.KubernetesVersion
	crictlVersion  = "v1.37.0"
)

// ErrUnavailable is wrapped by New (and SkipUnavailable) when this machine
// cannot run a real node: not Linux, not root, or a program missing. The
// message names every missing piece and how to get it.
var ErrUnavailable = errors.New("realnode: this machine cannot run a real node")

// envRequire is the environment variable that, set to 1, makes Start fail
// instead of skip when the machine cannot run a real node.
const envRequire = "LIFEBOAT_REQUIRE_REALNODE"

// Binaries are the programs a node runs.
type Binaries struct {
	// Kubelet and Crictl come from hack/tools.sh realnode
	// (LIFEBOAT_KUBELET, LIFEBOAT_CRICTL override them).
	Kubelet, Crictl string
	// Containerd, Ctr, Runc and the shim come from Debian's containerd
	// and runc packages, found on PATH.
	Containerd, Ctr, Runc, Shim string
	// CNIDir holds the CNI plugins (Debian's containernetworking-plugins:
	// /usr/lib/cni); only "loopback" is used.
	CNIDir string
	// Busybox is a statically linked busybox (Debian's busybox-static:
	// /bin/busybox), the shell and tools of the images.
	Busybox string
	// Go builds the pause binary.
	Go string
	// Etcd, Etcdctl and Etcdutl go into the etcd image (clustertest's).
	Etcd, Etcdctl, Etcdutl string
}

// findBinaries locates the programs a node runs. The paths are returned
// even when some are missing, with an error wrapping ErrUnavailable that
// names every missing one.
func findBinaries() (Binaries, error) {
	var missing []string
	if runtime.GOOS != "linux" {
		return Binaries{}, fmt.Errorf("%w: needs Linux, not %s", ErrUnavailable, runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root (containerd and the kubelet run as root)")
	}
	cache, err := toolchain.CacheRoot()
	if err != nil {
		return Binaries{}, err
	}
	pick := func(env, def string) string {
		if v := os.Getenv(env); v != "" {
			return v
		}
		return def
	}
	b := Binaries{
		Kubelet: pick("LIFEBOAT_KUBELET", filepath.Join(cache, "bin", "kubelet-"+kubeletVersion, "kubelet")),
		Crictl:  pick("LIFEBOAT_CRICTL", filepath.Join(cache, "bin", "crictl-"+crictlVersion, "crictl")),
		CNIDir:  "/usr/lib/cni",
		Busybox: "/bin/busybox",
	}
	for _, f := range []struct {
		path, how string
	}{
		{b.Kubelet, "hack/tools.sh realnode, or LIFEBOAT_KUBELET"},
		{b.Crictl, "hack/tools.sh realnode, or LIFEBOAT_CRICTL"},
		{filepath.Join(b.CNIDir, "loopback"), "apt-get install containernetworking-plugins"},
		{b.Busybox, "apt-get install busybox-static"},
	} {
		if err := executable(f.path); err != nil {
			missing = append(missing, fmt.Sprintf("%s: %v (%s)", f.path, err, f.how))
		}
	}
	look := func(dst *string, name, how string) {
		p, err := exec.LookPath(name)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s not on PATH (%s)", name, how))
			return
		}
		*dst = p
	}
	look(&b.Containerd, "containerd", "apt-get install containerd")
	look(&b.Ctr, "ctr", "apt-get install containerd")
	look(&b.Shim, "containerd-shim-runc-v2", "apt-get install containerd")
	look(&b.Runc, "runc", "apt-get install runc")
	look(&b.Go, "go", "the Go toolchain builds the pause binary")
	if eb, err := clustertest.FindBinaries(); err != nil {
		missing = append(missing, err.Error())
	} else {
		b.Etcd, b.Etcdctl, b.Etcdutl = eb.Etcd, eb.Etcdctl, eb.Etcdutl
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("%w: %s", ErrUnavailable, strings.Join(missing, "; "))
	}
	return b, nil
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("not found")
		}
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
