package hosttest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/names"
)

// defaultManifestDir is where a master's kubelet reads static pod
// manifests.
const defaultManifestDir = names.ManifestDir

// StaticPods returns the containers of the control plane's static pods,
// by manifest file name, as "crictl ps" names them on a master: the etcd
// pod's etcd, etcdctl, etcd-metrics and etcd-readyz, and one container
// each for kube-apiserver, kube-controller-manager and kube-scheduler.
// The map is new on each call.
func StaticPods() map[string][]string {
	return map[string][]string{
		"etcd-pod.yaml":                    {"etcd", "etcdctl", "etcd-metrics", "etcd-readyz"},
		"kube-apiserver-pod.yaml":          {"kube-apiserver"},
		"kube-controller-manager-pod.yaml": {"kube-controller-manager"},
		"kube-scheduler-pod.yaml":          {"kube-scheduler"},
	}
}

// Kubelet is a [host.Runtime] standing in for a master's kubelet and
// container runtime in unit tests: a static pod's containers run exactly
// while its manifest is in the manifest directory of the tree at Root, so
// moving a manifest aside "stops" them at once and moving it back "starts"
// them. RestartKubelet and Shutdown are recorded and do nothing else.
//
// A [Dir] made without [DirOptions.Runtime] has one with its Root and Node
// set. The fields may not change once the Kubelet is in use; its methods
// are safe for concurrent use.
type Kubelet struct {
	// Root is the directory that is the host's "/".
	Root string
	// Node names the pods ("etcd-<Node>"); empty leaves the suffix off.
	Node string
	// ManifestDir is the host path of the manifest directory; empty means
	// /etc/kubernetes/manifests.
	ManifestDir string
	// Pods maps a manifest file name to the containers its pod runs; nil
	// means StaticPods(). A manifest not in the map runs nothing.
	Pods map[string][]string

	mu        sync.Mutex
	restarts  int
	shutdowns []time.Duration
}

var _ host.Runtime = (*Kubelet)(nil)

// Containers lists the containers of every manifest present whose name
// contains name (all for ""), sorted by pod then container, State
// "Running", ID "<pod>/<container>".
func (k *Kubelet) Containers(ctx context.Context, name string) ([]host.Container, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := k.ManifestDir
	if dir == "" {
		dir = defaultManifestDir
	}
	pods := k.Pods
	if pods == nil {
		pods = StaticPods()
	}
	manifests := make([]string, 0, len(pods))
	for m := range pods {
		manifests = append(manifests, m)
	}
	sort.Strings(manifests)
	var out []host.Container
	for _, m := range manifests {
		_, err := os.Stat(filepath.Join(k.Root, filepath.FromSlash(strings.TrimPrefix(dir, "/")), m))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("kubelet: reading manifest %s: %w", m, err)
		}
		pod := strings.TrimSuffix(strings.TrimSuffix(m, ".yaml"), "-pod")
		if k.Node != "" {
			pod += "-" + k.Node
		}
		for _, c := range pods[m] {
			if strings.Contains(c, name) {
				out = append(out, host.Container{ID: pod + "/" + c, Name: c, Pod: pod, State: "Running"})
			}
		}
	}
	return out, nil
}

// RestartKubelet records a restart.
func (k *Kubelet) RestartKubelet(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.restarts++
	return nil
}

// Shutdown records the delay of a shutdown; the host stays "up".
func (k *Kubelet) Shutdown(ctx context.Context, delay time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.shutdowns = append(k.shutdowns, delay)
	return nil
}

// Restarts returns how many times RestartKubelet succeeded.
func (k *Kubelet) Restarts() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.restarts
}

// Shutdowns returns the delays Shutdown was called with, in order.
func (k *Kubelet) Shutdowns() []time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]time.Duration(nil), k.shutdowns...)
}
