package realnode

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// containerdConfig is containerd's configuration: every directory under
// the node's root, the CRI plugin with the pause image as sandbox image, a
// runc root of its own, loopback-only CNI, and restrict_oom_score_adj (a
// VM that cannot lower oom_score_adj fails every sandbox otherwise).
// Plugins that would write elsewhere (opt: /opt/containerd) or that need
// what a test machine lacks are disabled.
func (n *Node) containerdConfig() string {
	q := strconv.Quote
	return fmt.Sprintf(`version = 2
root = %s
state = %s
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %s

[ttrpc]
  address = %s

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %s
        Root = %s
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s
`, q(n.path("containerd/root")), q(n.path("containerd/state")), q(n.Socket()), q(n.Socket()+".ttrpc"),
		q(pauseImage), q(n.bins.Runc), q(n.path("runc")), q(n.bins.CNIDir), q(n.path("cni")))
}

// cniConfig is a loopback-only network: the node becomes Ready (the
// kubelet wants a CNI config), and only host-network pods are run.
const cniConfig = `{"cniVersion": "0.4.0", "name": "lifeboat-loopback", "plugins": [{"type": "loopback"}]}
`

// kubeletConfig is the KubeletConfiguration: static pods from
// ManifestDir (checked every second), x509 clients of the cluster's CA
// allowed everything, cgroups under the node's own cgroup root, no
// eviction or image GC (the images cannot be pulled again), logs under
// the root, and the settings this machine kind needs (failCgroupV1: false
// on cgroup v1; oomScoreAdj: 0 where oom_score_adj cannot be lowered).
func (n *Node) kubeletConfig(caFile, certFile, keyFile string) string {
	q := strconv.Quote
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: %d
readOnlyPort: 0
healthzPort: 0
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %s}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: %s
cgroupDriver: cgroupfs
cgroupRoot: %s
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
staticPodPath: %s
fileCheckFrequency: 1s
syncFrequency: 5s
nodeStatusUpdateFrequency: 2s
podLogsDir: %s
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", imagefs.available: "1%%"}
serializeImagePulls: false
registerNode: true
resolvConf: ""
`, n.opts.NodeIP, n.kubeletPort, q(certFile), q(keyFile), q(caFile), q("unix://"+n.Socket()),
		q("/"+n.cgroupName), q(n.ManifestDir()), q(n.path("log/pods")))
}

// writeKubeconfig writes the kubelet's kubeconfig (certificate files of the
// cluster's PKI, CN system:node:<name>).
func writeKubeconfig(path, server, caFile, certFile, keyFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["node"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
	cfg.Contexts["node"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "node"}
	cfg.CurrentContext = "node"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("realnode: writing the kubelet's kubeconfig: %w", err)
	}
	return nil
}

// writeFiles writes name → content under the node's root.
func (n *Node) writeFiles(files map[string]string) error {
	for name, content := range files {
		p := n.path(name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("realnode: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("realnode: %w", err)
		}
	}
	return nil
}

// debugEnv is the environment of DebugImage (see there).
func (n *Node) debugEnv() []string {
	path := append(append([]string{}, n.opts.DebugImagePath...), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", filepath.Dir(n.bins.Crictl))
	return []string{
		"PATH=" + strings.Join(path, ":"),
		"CONTAINER_RUNTIME_ENDPOINT=unix://" + n.Socket(),
	}
}
