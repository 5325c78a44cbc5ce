package clustertest

import (
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The static pods of a master, laid out the way the OpenShift static-pod
// installers leave them on a real master:
//
//	/etc/kubernetes/manifests/<component>-pod.yaml         the live manifest (read by the kubelet)
//	/etc/kubernetes/static-pod-resources/<component>-pod-N/ revision N of the component:
//	    <component>-pod.yaml                                 a copy of the manifest of revision N
//	    configmaps/<name>/<file>, secrets/<name>/<file>      what that revision was installed with
//	/etc/kubernetes/static-pod-resources/etcd-certs/        the etcd certificates of every member
//	/var/lib/etcd/member                                     the etcd data directory
//
// A live manifest names its revision twice: the label revision: "N" and the
// hostPath volume "resource-dir" pointing at .../<component>-pod-N, which is
// where cluster-backup.sh and cluster-restore.sh look for it.
//
// Only the etcd manifest is run by the simulated kubelet: its "etcd"
// container's command is a plain etcd command line whose absolute paths are
// container paths, mapped to the host tree through the container's
// volumeMounts and the pod's hostPath volumes. The other three manifests
// describe their components realistically but nothing executes their
// commands; the cluster's single real kube-apiserver follows the presence of
// kube-apiserver-pod.yaml (see apiserver.go).

// Static pod components, as named in their manifest file names.
const (
	componentEtcd                  = "etcd"
	componentKubeAPIServer         = "kube-apiserver"
	componentKubeControllerManager = "kube-controller-manager"
	componentKubeScheduler         = "kube-scheduler"
)

// staticPodComponents are the components whose manifests a master carries.
var staticPodComponents = []string{componentEtcd, componentKubeAPIServer, componentKubeControllerManager, componentKubeScheduler}

// Host paths of the OpenShift layout.
const (
	manifestsDir          = names.ManifestDir
	staticPodResourcesDir = names.StaticPodResourcesDir
	etcdCertsDir          = staticPodResourcesDir + "/etcd-certs"
	etcdDataDir           = names.EtcdDataDir

	// etcdCertsMount is where the etcd pod mounts etcdCertsDir.
	etcdCertsMount = "/etc/kubernetes/static-pod-certs"
)

// Initial revisions of the seeded cluster: different per component, as on a
// cluster that has lived a little.
var initialRevisions = map[string]int{
	componentEtcd:                  3,
	componentKubeAPIServer:         7,
	componentKubeControllerManager: 6,
	componentKubeScheduler:         5,
}

// componentInfo describes a static pod component: its namespace, the
// manifest's pod name, labels and containers.
type componentInfo struct {
	namespace  string
	podName    string
	labels     map[string]string
	containers []string
}

var components = map[string]componentInfo{
	componentEtcd: {
		namespace:  names.EtcdNamespace,
		podName:    "etcd",
		labels:     map[string]string{"app": "etcd", "k8s-app": "etcd", "etcd": "true"},
		containers: []string{"etcdctl", "etcd", "etcd-metrics"},
	},
	componentKubeAPIServer: {
		namespace:  names.KubeAPIServerNamespace,
		podName:    "kube-apiserver",
		labels:     map[string]string{"app": "openshift-kube-apiserver", "apiserver": "true"},
		containers: []string{"kube-apiserver", "kube-apiserver-cert-syncer", "kube-apiserver-insecure-readyz"},
	},
	componentKubeControllerManager: {
		namespace:  "openshift-kube-controller-manager",
		podName:    "kube-controller-manager",
		labels:     map[string]string{"app": "kube-controller-manager", "kube-controller-manager": "true"},
		containers: []string{"kube-controller-manager", "cluster-policy-controller", "kube-controller-manager-cert-syncer"},
	},
	componentKubeScheduler: {
		namespace:  "openshift-kube-scheduler",
		podName:    "openshift-kube-scheduler",
		labels:     map[string]string{"app": "openshift-kube-scheduler", "scheduler": "true"},
		containers: []string{"kube-scheduler", "kube-scheduler-cert-syncer"},
	},
}

// manifestPath is the host path of component's live manifest.
func manifestPath(component string) string {
	return manifestsDir + "/" + component + "-pod.yaml"
}

// revisionDir is the host path of revision n of component.
func revisionDir(component string, n int) string {
	return fmt.Sprintf("%s/%s-pod-%d", staticPodResourcesDir, component, n)
}

// etcdCertPaths are the paths, below the etcd-certs directory, of a member's
// certificates (as the etcd operator names them).
func etcdCertPaths(node string) (peerCrt, peerKey, servingCrt, servingKey, metricsCrt, metricsKey string) {
	return "secrets/etcd-all-peer/etcd-peer-" + node + ".crt",
		"secrets/etcd-all-peer/etcd-peer-" + node + ".key",
		"secrets/etcd-all-serving/etcd-serving-" + node + ".crt",
		"secrets/etcd-all-serving/etcd-serving-" + node + ".key",
		"secrets/etcd-all-serving-metrics/etcd-serving-metrics-" + node + ".crt",
		"secrets/etcd-all-serving-metrics/etcd-serving-metrics-" + node + ".key"
}

const (
	etcdServingCABundle = "configmaps/etcd-serving-ca/ca-bundle.crt"
	etcdPeerCABundle    = "configmaps/etcd-peer-client-ca/ca-bundle.crt"
)

// fakeImage returns an image reference that looks like a release payload
// image. Nothing pulls it.
func fakeImage(component string) string {
	sum := 0
	for _, r := range component {
		sum = sum*31 + int(r)
	}
	return fmt.Sprintf("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:%064x", sum&0xffffffff)
}

// etcdPodManifest returns the etcd-pod.yaml of revision for the member on
// node: a v1.Pod whose "etcd" container runs etcd with the member's name,
// URLs and certificates (container paths under /etc/kubernetes/static-pod-certs
// and /var/lib/etcd, mounted from the host's etcd-certs and data
// directories), --initial-cluster initialCluster (name=peerURL,...) and
// --initial-cluster-state state ("new" or "existing"; etcd ignores both once
// its data directory holds a member). The etcdctl container carries the
// ETCDCTL_* variables an administrator's "oc rsh" gets.
//
// The etcd operator installs it with writeEtcdRevision.
func (c *Cluster) etcdPodManifest(node string, revision int, initialCluster string, state string) []byte {
	h := c.Host(node)
	clientURL, peerURL := "", ""
	if h != nil {
		clientURL, peerURL = h.EtcdClientURL(), h.EtcdPeerURL()
	}
	peerCrt, peerKey, servingCrt, servingKey, _, _ := etcdCertPaths(node)
	certs := func(p string) string { return etcdCertsMount + "/" + p }
	args := etcdMemberArgs(etcdMemberConfig{
		Name:              node,
		DataDir:           etcdDataDir,
		ClientURL:         clientURL,
		PeerURL:           peerURL,
		InitialCluster:    initialCluster,
		InitialClusterNew: state == "new",
		ClusterToken:      c.etcdToken,
		ServerTLS:         TLSFiles{CAFile: certs(etcdServingCABundle), CertFile: certs(servingCrt), KeyFile: certs(servingKey)},
		PeerTLS:           TLSFiles{CAFile: certs(etcdPeerCABundle), CertFile: certs(peerCrt), KeyFile: certs(peerKey)},
	})
	pod := staticPodBase(componentEtcd, revision)
	mounts := []corev1.VolumeMount{
		{Name: "resource-dir", MountPath: staticPodResourcesDir},
		{Name: "cert-dir", MountPath: etcdCertsMount},
		{Name: "data-dir", MountPath: etcdDataDir},
	}
	image := fakeImage("etcd")
	pod.Spec.Containers = []corev1.Container{
		{
			Name:    "etcdctl",
			Image:   image,
			Command: []string{"/bin/bash", "-c", "trap TERM INT; sleep infinity & wait"},
			Env: []corev1.EnvVar{
				{Name: "ETCDCTL_API", Value: "3"},
				{Name: "ETCDCTL_CACERT", Value: certs(etcdServingCABundle)},
				{Name: "ETCDCTL_CERT", Value: certs(peerCrt)},
				{Name: "ETCDCTL_KEY", Value: certs(peerKey)},
				{Name: "ETCDCTL_ENDPOINTS", Value: clientURL},
				{Name: "ETCD_NODE_NAME", Value: node},
			},
			VolumeMounts: mounts,
		},
		{
			Name:         "etcd",
			Image:        image,
			Command:      append([]string{"etcd"}, args...),
			VolumeMounts: mounts,
			Env:          []corev1.EnvVar{{Name: "ETCD_NODE_NAME", Value: node}},
		},
		{
			Name:  "etcd-metrics",
			Image: image,
			Command: []string{"etcd", "grpc-proxy", "start",
				"--endpoints=" + clientURL,
				"--cert=" + certs(servingCrt), "--key=" + certs(servingKey), "--cacert=" + certs(etcdServingCABundle)},
			VolumeMounts: mounts,
		},
	}
	pod.Spec.Containers = append(pod.Spec.Containers, c.releaseEtcdContainers(image, mounts)...)
	pod.Spec.Volumes = []corev1.Volume{
		hostPathVolume("resource-dir", revisionDir(componentEtcd, revision)),
		hostPathVolume("cert-dir", etcdCertsDir),
		hostPathVolume("data-dir", etcdDataDir),
	}
	return marshalPod(pod)
}

// controlPlanePodManifest returns the manifest of revision of one of the
// three components that are not run (kube-apiserver,
// kube-controller-manager, kube-scheduler).
func (c *Cluster) controlPlanePodManifest(component, node string, revision int) []byte {
	info := components[component]
	pod := staticPodBase(component, revision)
	mounts := []corev1.VolumeMount{
		{Name: "resource-dir", MountPath: staticPodResourcesDir},
		{Name: "cert-dir", MountPath: etcdCertsMount},
	}
	for i, name := range info.containers {
		ctr := corev1.Container{Name: name, Image: fakeImage(component), VolumeMounts: mounts}
		if i == 0 {
			ctr.Command = []string{"hyperkube", component}
			ctr.Args = []string{
				"--openshift-config=" + staticPodResourcesDir + "/configmaps/config/config.yaml",
				"-v=2",
			}
			if component == componentKubeAPIServer {
				ctr.Args = append(ctr.Args, "--advertise-address="+c.nodeIP(node))
			}
		} else {
			ctr.Command = []string{"cluster-kube-" + strings.TrimPrefix(component, "kube-") + "-operator", strings.TrimPrefix(name, component+"-")}
		}
		pod.Spec.Containers = append(pod.Spec.Containers, ctr)
	}
	pod.Spec.Volumes = []corev1.Volume{
		hostPathVolume("resource-dir", revisionDir(component, revision)),
		hostPathVolume("cert-dir", staticPodResourcesDir+"/"+component+"-certs"),
	}
	return marshalPod(pod)
}

func staticPodBase(component string, revision int) *corev1.Pod {
	info := components[component]
	labels := map[string]string{"revision": strconv.Itoa(revision)}
	for k, v := range info.labels {
		labels[k] = v
	}
	return &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        info.podName,
			Namespace:   info.namespace,
			Labels:      labels,
			Annotations: map[string]string{"target.workload.openshift.io/management": `{"effect": "PreferredDuringScheduling"}`},
		},
		Spec: corev1.PodSpec{
			HostNetwork:       true,
			PriorityClassName: "system-node-critical",
			Tolerations:       []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
	}
}

func hostPathVolume(name, p string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p}}}
}

func marshalPod(pod *corev1.Pod) []byte {
	b, err := yaml.Marshal(pod)
	if err != nil {
		// A Pod always marshals.
		panic(fmt.Sprintf("clustertest: marshalling pod: %v", err))
	}
	return b
}

// parsePodManifest decodes a static pod manifest (YAML or JSON).
func parsePodManifest(data []byte) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := yaml.UnmarshalStrict(data, pod); err != nil {
		// Tolerate fields this API version does not know, as the kubelet does.
		pod = &corev1.Pod{}
		if err2 := yaml.Unmarshal(data, pod); err2 != nil {
			return nil, fmt.Errorf("parsing pod manifest: %w", err2)
		}
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return nil, fmt.Errorf("parsing pod manifest: kind %q is not Pod", pod.Kind)
	}
	return pod, nil
}

// manifestRevision returns the revision label of a manifest, 0 if absent.
func manifestRevision(pod *corev1.Pod) int {
	n, _ := strconv.Atoi(pod.Labels["revision"])
	return n
}

// containerHostPath maps an absolute path seen inside ctr to a host path:
// through the volumeMount with the longest matching mountPath and the pod's
// hostPath volume of that name; a path under no mount is taken as a host
// path as it is. volumeMount subPath is not supported (the control plane's
// static pods do not use it).
func containerHostPath(pod *corev1.Pod, ctr *corev1.Container, p string) string {
	p = path.Clean(p)
	best := -1
	var hostBase, rest string
	for _, m := range ctr.VolumeMounts {
		mp := path.Clean(m.MountPath)
		var r string
		switch {
		case p == mp:
			r = ""
		case strings.HasPrefix(p, strings.TrimSuffix(mp, "/")+"/"):
			r = strings.TrimPrefix(p, strings.TrimSuffix(mp, "/"))
		default:
			continue
		}
		if len(mp) <= best {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name == m.Name && v.HostPath != nil {
				best, hostBase, rest = len(mp), v.HostPath.Path, r
			}
		}
	}
	if best < 0 {
		return p
	}
	return path.Clean(hostBase + rest)
}

// writeTree writes files (host path relative to root → content) below root,
// creating directories. Keys ending in ".key" are written 0600.
func writeTree(root string, files map[string][]byte) error {
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("clustertest: writing %s: %w", p, err)
		}
		perm := os.FileMode(0o644)
		if strings.HasSuffix(p, ".key") || strings.Contains(p, "/secrets/") {
			perm = 0o600
		}
		if err := os.WriteFile(full, data, perm); err != nil {
			return fmt.Errorf("clustertest: writing %s: %w", p, err)
		}
	}
	return nil
}
