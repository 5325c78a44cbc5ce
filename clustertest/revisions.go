package clustertest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
)

// writeEtcdRevision installs revision of etcd on h with a manifest carrying
// the given bootstrap flags (see etcdPodManifest), as the etcd operator's
// installer does for a member it has just added (state "existing") and as
// the installer did for the first members (state "new"). Both the revision
// directory and the live manifest get the same manifest.
func (c *Cluster) writeEtcdRevision(h *Host, revision int, initialCluster, state string) error {
	return c.installRevision(h, componentEtcd, revision, c.etcdPodManifest(h.name, revision, initialCluster, state), true)
}

// writeStaticPodRevision installs revision of component on h, as an
// OpenShift installer pod does: it writes
// /etc/kubernetes/static-pod-resources/<component>-pod-<revision>/ (the pod
// manifest and the configmaps and secrets of that revision), then replaces
// /etc/kubernetes/manifests/<component>-pod.yaml atomically, and wakes the
// kubelet. It works on a powered-off host too (the files are on its disk).
//
// For etcd the manifest's bootstrap flags are --initial-cluster of every
// master host and --initial-cluster-state existing, which etcd ignores when
// /var/lib/etcd/member exists. When it does not (a new member, or one whose
// data directory was moved aside), starting etcd with those flags would be
// wrong, so only the revision directory is written and the live manifest is
// left to writeEtcdRevision with the flags of the member just added.
func (c *Cluster) writeStaticPodRevision(h *Host, component string, revision int) error {
	if _, ok := components[component]; !ok {
		return fmt.Errorf("clustertest: unknown static pod component %q", component)
	}
	if component != componentEtcd {
		return c.installRevision(h, component, revision, c.controlPlanePodManifest(component, h.name, revision), true)
	}
	var peers []string
	for _, m := range c.masterHosts() {
		peers = append(peers, m.name+"="+m.peerURL)
	}
	_, err := os.Stat(h.path(etcdDataDir + "/member"))
	live := err == nil
	return c.installRevision(h, componentEtcd, revision, c.etcdPodManifest(h.name, revision, strings.Join(peers, ","), "existing"), live)
}

// installRevision writes revision's directory with manifest and, if live,
// the live manifest.
func (c *Cluster) installRevision(h *Host, component string, revision int, manifest []byte, live bool) error {
	if revision <= 0 {
		return fmt.Errorf("clustertest: %s: invalid revision %d", component, revision)
	}
	dir := revisionDir(component, revision)
	files := map[string][]byte{
		dir + "/" + component + "-pod.yaml":                       manifest,
		dir + "/configmaps/" + component + "-pod/pod.yaml":        manifest,
		dir + "/configmaps/" + component + "-pod/version":         []byte(fmt.Sprint(revision)),
		dir + "/configmaps/" + component + "-pod/forceRedeployed": []byte("false"),
	}
	ca := c.PKI.CAPEM()
	switch component {
	case componentEtcd:
		files[dir+"/configmaps/etcd-serving-ca/ca-bundle.crt"] = ca
		files[dir+"/configmaps/etcd-peer-client-ca/ca-bundle.crt"] = ca
		files[dir+"/configmaps/etcd-endpoints/endpoints"] = []byte(strings.Join(c.EtcdEndpoints(), "\n") + "\n")
	case componentKubeAPIServer:
		files[dir+"/configmaps/config/config.yaml"] = c.kubeAPIServerConfig()
		files[dir+"/configmaps/etcd-serving-ca/ca-bundle.crt"] = ca
		files[dir+"/configmaps/kube-apiserver-server-ca/ca-bundle.crt"] = ca
		if c.apiserver != nil {
			if crt, err := os.ReadFile(c.apiserver.etcdClient.CertFile); err == nil {
				files[dir+"/secrets/etcd-client/tls.crt"] = crt
			}
			if key, err := os.ReadFile(c.apiserver.etcdClient.KeyFile); err == nil {
				files[dir+"/secrets/etcd-client/tls.key"] = key
			}
		}
	case componentKubeControllerManager:
		files[dir+"/configmaps/config/config.yaml"] = []byte("apiVersion: kubecontrolplane.config.openshift.io/v1\nkind: KubeControllerManagerConfig\nextendedArguments:\n  cluster-cidr:\n  - 10.128.0.0/14\n  service-cluster-ip-range:\n  - 172.30.0.0/16\n")
		files[dir+"/configmaps/service-ca/ca-bundle.crt"] = ca
		files[dir+"/configmaps/serviceaccount-ca/ca-bundle.crt"] = ca
	case componentKubeScheduler:
		files[dir+"/configmaps/config/config.yaml"] = []byte("apiVersion: kubescheduler.config.k8s.io/v1beta1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  kubeconfig: /etc/kubernetes/static-pod-resources/configmaps/scheduler-kubeconfig/kubeconfig\n")
		files[dir+"/configmaps/scheduler-kubeconfig/kubeconfig"] = []byte("apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://localhost:6443\n  name: lb-int\n")
	}
	if err := writeTree(h.root, files); err != nil {
		return err
	}
	if component == componentEtcd {
		if err := c.writeReleaseScripts(h); err != nil {
			return err
		}
	}
	if !live {
		return nil
	}
	p := h.path(manifestPath(component))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("clustertest: %s: %w", h.name, err)
	}
	if err := atomicfile.WriteFile(p, bytes.NewReader(manifest), 0o644); err != nil {
		return fmt.Errorf("clustertest: installing %s revision %d on %s: %w", component, revision, h.name, err)
	}
	h.kubelet.poke()
	return nil
}

// staticPodRevision returns the revision label of component's live
// manifest on h, and false when there is no (readable) live manifest.
func (h *Host) staticPodRevision(component string) (int, bool) {
	data, err := os.ReadFile(h.path(manifestPath(component)))
	if err != nil {
		return 0, false
	}
	pod, err := parsePodManifest(data)
	if err != nil {
		return 0, false
	}
	return manifestRevision(pod), true
}

// kubeAPIServerConfig is the config.yaml of a kube-apiserver revision,
// naming the etcd members it talks to.
func (c *Cluster) kubeAPIServerConfig() []byte {
	var b strings.Builder
	b.WriteString("apiVersion: kubecontrolplane.config.openshift.io/v1\nkind: KubeAPIServerConfig\nstorageConfig:\n  urls:\n")
	for _, e := range c.EtcdEndpoints() {
		b.WriteString("  - " + e + "\n")
	}
	b.WriteString("servingInfo:\n  bindAddress: 0.0.0.0:6443\n")
	return []byte(b.String())
}
