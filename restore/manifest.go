package restore

import (
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// Static pod components, in the order cluster-restore.sh stops them.
var stopOrder = []string{"kube-scheduler", "kube-controller-manager", "etcd", "kube-apiserver"}

// startOrder is the order the manifests go back, etcd first.
var startOrder = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// Containers each component's pod runs, as "crictl ps" names them; the
// restore waits for all of them to stop. The etcd pod's are those
// cluster-restore.sh and disable-etcd.sh of 4.18+ wait for (etcd-readyz
// exists from 4.10, etcd-rev from 4.18; a name no container has costs
// nothing).
var componentContainers = map[string][]string{
	"etcd":                    {"etcd", "etcdctl", "etcd-metrics", "etcd-readyz", "etcd-rev"},
	"kube-apiserver":          {"kube-apiserver"},
	"kube-controller-manager": {"kube-controller-manager"},
	"kube-scheduler":          {"kube-scheduler"},
}

// Host paths of the OpenShift layout (data, not code: Options can move
// them).
const (
	defaultManifestDir     = names.ManifestDir
	defaultConfigDir       = backup.DefaultConfigDir // the archive's paths are relative to it
	defaultEtcdDataDir     = names.EtcdDataDir
	defaultEtcdBackupDir   = names.EtcdBackupDir
	defaultRemoteBackupDir = "/home/core/backup"
	defaultAsideDir        = "/var/lib/lifeboat/restore-aside"
	defaultStatePath       = "/var/lib/lifeboat/restore-state.json"
	// clusterRestorePodPath is where the cluster keeps its own restore pod
	// manifest (cluster-restore.sh copies it into the manifest directory).
	clusterRestorePodPath = "/etc/kubernetes/static-pod-resources/etcd-certs/configmaps/restore-etcd-pod/pod.yaml"
)

// memberIdentity is what a restored member needs to know about itself.
type memberIdentity struct {
	Name    string
	PeerURL string
}

// memberFromEtcdPod reads the member name and peer URL from an etcd-pod.yaml:
// the --name and --initial-advertise-peer-urls flags of the "etcd"
// container, in its command or args, written as "--flag=value" or
// "--flag value" (also inside a "sh -c" script), with ${VAR} and $VAR
// expanded from the container's env.
func memberFromEtcdPod(manifest []byte) (memberIdentity, error) {
	var pod corev1.Pod
	if err := yaml.Unmarshal(manifest, &pod); err != nil {
		return memberIdentity{}, fmt.Errorf("parsing etcd pod manifest: %w", err)
	}
	var ctr *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == "etcd" {
			ctr = &pod.Spec.Containers[i]
		}
	}
	if ctr == nil {
		return memberIdentity{}, fmt.Errorf("etcd pod manifest has no etcd container")
	}
	env := map[string]string{}
	for _, e := range ctr.Env {
		env[e.Name] = e.Value
	}
	var missing []string
	expand := func(s string) string {
		return os.Expand(s, func(k string) string {
			v, ok := env[k]
			if !ok {
				missing = append(missing, k)
			}
			return v
		})
	}
	var tokens []string
	for _, s := range append(append([]string{}, ctr.Command...), ctr.Args...) {
		s = strings.ReplaceAll(s, "\\\n", " ")
		tokens = append(tokens, strings.Fields(s)...)
	}
	flag := func(name string) string {
		for i, t := range tokens {
			t = strings.Trim(t, `"'`)
			if v, ok := strings.CutPrefix(t, name+"="); ok {
				return expand(strings.Trim(v, `"'`))
			}
			if t == name && i+1 < len(tokens) {
				return expand(strings.Trim(tokens[i+1], `"'`))
			}
		}
		return ""
	}
	id := memberIdentity{Name: flag("--name"), PeerURL: flag("--initial-advertise-peer-urls")}
	if id.Name == "" {
		id.Name = env["ETCD_NAME"]
	}
	if i := strings.IndexByte(id.PeerURL, ','); i >= 0 {
		id.PeerURL = id.PeerURL[:i]
	}
	if len(missing) > 0 {
		return memberIdentity{}, fmt.Errorf("etcd pod manifest: the member name or peer URL refers to %v, which the etcd container's env does not set", missing)
	}
	return id, nil
}
