package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// requireBinaries skips the test when etcd or kube-apiserver is not built
// (hack/tools.sh builds them; hack/test.sh runs it first).
func requireBinaries(t testing.TB) {
	t.Helper()
	b, err := FindBinaries()
	if err != nil && (checkExecutable(b.Etcd) != nil || checkExecutable(b.KubeAPIServer) != nil) {
		t.Skipf("etcd/kube-apiserver binaries missing, run hack/tools.sh: %v", err)
	}
}

func TestStartSeedsAHealthyCluster(t *testing.T) {
	t.Parallel() // its own cluster
	requireBinaries(t)
	c := Start(t, Options{})
	ctx := t.Context()

	if got := len(c.Masters()); got != 3 {
		t.Fatalf("Masters() = %d nodes, want 3", got)
	}
	if got := len(c.Workers()); got != 2 {
		t.Fatalf("Workers() = %d nodes, want 2", got)
	}

	t.Run("etcd members healthy", func(t *testing.T) {
		cl, err := c.EtcdClient(ctx)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.MemberList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range resp.Members {
			names = append(names, m.Name)
		}
		slices.Sort(names)
		want := slices.Clone(c.Masters())
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Fatalf("members %v, want %v", names, want)
		}
		for _, ep := range c.EtcdEndpoints() {
			if _, err := cl.Status(ctx, ep); err != nil {
				t.Errorf("member %s: %v", ep, err)
			}
		}
	})

	t.Run("kubeconfig is admin", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", c.KubeconfigPath)
		if err != nil {
			t.Fatal(err)
		}
		kc := kubernetes.NewForConfigOrDie(cfg)
		ssr, err := kc.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ssr.Status.UserInfo.Username != "system:admin" || !slices.Contains(ssr.Status.UserInfo.Groups, "system:masters") {
			t.Fatalf("kubeconfig user = %+v, want system:admin in system:masters", ssr.Status.UserInfo)
		}
	})

	t.Run("RBAC denies an unprivileged user", func(t *testing.T) {
		cfg := *c.RESTConfig
		cfg.Impersonate.UserName = "someone"
		kc := kubernetes.NewForConfigOrDie(&cfg)
		_, err := kc.CoreV1().Secrets(nsEtcd).List(ctx, metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("listing secrets as someone: err = %v, want Forbidden", err)
		}
	})

	t.Run("CRDs established", func(t *testing.T) {
		cs := apiextensionsclient.NewForConfigOrDie(c.RESTConfig)
		for _, crd := range openshiftCRDs {
			got, err := cs.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name(), metav1.GetOptions{})
			if err != nil {
				t.Errorf("CRD %s: %v", crd.Name(), err)
				continue
			}
			if got.Annotations["release.openshift.io/feature-set"] != "" && got.Annotations["release.openshift.io/feature-set"] != "Default" {
				t.Errorf("CRD %s is the %q variant", crd.Name(), got.Annotations["release.openshift.io/feature-set"])
			}
		}
	})

	t.Run("nodes and machines", func(t *testing.T) {
		nodes, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "node-role.kubernetes.io/master"})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes.Items) != 3 {
			t.Fatalf("%d master nodes, want 3", len(nodes.Items))
		}
		for _, n := range nodes.Items {
			if !nodeReady(&n) {
				t.Errorf("node %s not Ready", n.Name)
			}
			if ip := nodeAddress(&n, corev1.NodeInternalIP); ip != c.Host(n.Name).IP() || !strings.HasPrefix(ip, "10.0.") {
				t.Errorf("node %s InternalIP %q, host IP %q", n.Name, ip, c.Host(n.Name).IP())
			}
			m, err := c.Machine.MachineV1beta1().Machines(nsMachineAPI).Get(ctx, c.MachineName(n.Name), metav1.GetOptions{})
			if err != nil {
				t.Errorf("machine of %s: %v", n.Name, err)
				continue
			}
			if m.Status.NodeRef == nil || m.Status.NodeRef.Name != n.Name {
				t.Errorf("machine %s nodeRef %+v, want %s", m.Name, m.Status.NodeRef, n.Name)
			}
			if got := instanceState(m.Status.ProviderStatus); got != "running" {
				t.Errorf("machine %s instanceState %q", m.Name, got)
			}
			if m.Status.Phase == nil || *m.Status.Phase != "Running" {
				t.Errorf("machine %s phase %v", m.Name, m.Status.Phase)
			}
			if m.Spec.ProviderID == nil || *m.Spec.ProviderID != n.Spec.ProviderID {
				t.Errorf("machine %s providerID %v, node has %q", m.Name, m.Spec.ProviderID, n.Spec.ProviderID)
			}
			if !strings.HasPrefix(m.Name, c.Name()+"-master-") {
				t.Errorf("machine name %s, want prefix %s-master-", m.Name, c.Name())
			}
		}
	})

	t.Run("static pod operators", func(t *testing.T) {
		etcd, err := c.Operator.OperatorV1().Etcds().Get(ctx, "cluster", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rev := etcd.Status.LatestAvailableRevision
		if rev == 0 || len(etcd.Status.NodeStatuses) != 3 {
			t.Fatalf("etcd status: latest %d, nodeStatuses %+v", rev, etcd.Status.NodeStatuses)
		}
		for _, ns := range etcd.Status.NodeStatuses {
			if ns.CurrentRevision != rev {
				t.Errorf("node %s at revision %d, want %d", ns.NodeName, ns.CurrentRevision, rev)
			}
			h := c.Host(ns.NodeName)
			if got, ok := h.staticPodRevision(componentEtcd); !ok || got != int(rev) {
				t.Errorf("host %s etcd-pod.yaml revision %d (%v), want %d", ns.NodeName, got, ok, rev)
			}
		}
		var found bool
		for _, cond := range etcd.Status.Conditions {
			if cond.Type == "NodeInstallerProgressing" {
				found = true
				if cond.Reason != "AllNodesAtLatestRevision" || !strings.HasPrefix(cond.Message, "3 nodes are at revision ") {
					t.Errorf("NodeInstallerProgressing = %s %q", cond.Reason, cond.Message)
				}
			}
		}
		if !found {
			t.Error("no NodeInstallerProgressing condition")
		}
		for _, get := range []func() error{
			func() error {
				_, err := c.Operator.OperatorV1().KubeAPIServers().Get(ctx, "cluster", metav1.GetOptions{})
				return err
			},
			func() error {
				_, err := c.Operator.OperatorV1().KubeControllerManagers().Get(ctx, "cluster", metav1.GetOptions{})
				return err
			},
			func() error {
				_, err := c.Operator.OperatorV1().KubeSchedulers().Get(ctx, "cluster", metav1.GetOptions{})
				return err
			},
		} {
			if err := get(); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("cluster version and operators", func(t *testing.T) {
		cv, err := c.Config.ConfigV1().ClusterVersions().Get(ctx, "version", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cv.Status.Desired.Version != "4.5.2" || len(cv.Status.History) == 0 || cv.Status.History[0].State != "Completed" {
			t.Errorf("clusterversion status: desired %q history %+v", cv.Status.Desired.Version, cv.Status.History)
		}
		co, err := c.Config.ConfigV1().ClusterOperators().Get(ctx, "etcd", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(co.Status.Conditions) == 0 || len(co.Status.Versions) == 0 {
			t.Errorf("clusteroperator etcd status %+v", co.Status)
		}
		if _, err := c.Config.ConfigV1().Proxies().Get(ctx, "cluster", metav1.GetOptions{}); err != nil {
			t.Error(err)
		}
		if _, err := c.Config.ConfigV1().APIServers().Get(ctx, "cluster", metav1.GetOptions{}); err != nil {
			t.Error(err)
		}
	})

	t.Run("etcd pods and secrets", func(t *testing.T) {
		for _, node := range c.Masters() {
			pod, err := c.Kube.CoreV1().Pods(nsEtcd).Get(ctx, "etcd-"+node, metav1.GetOptions{})
			if err != nil {
				t.Errorf("pod etcd-%s: %v", node, err)
				continue
			}
			if !podEtcdReady(pod) || pod.Spec.NodeName != node {
				t.Errorf("pod etcd-%s: phase %s nodeName %s statuses %+v", node, pod.Status.Phase, pod.Spec.NodeName, pod.Status.ContainerStatuses)
			}
			for _, prefix := range []string{"etcd-peer-", "etcd-serving-", "etcd-serving-metrics-"} {
				s, err := c.Kube.CoreV1().Secrets(nsEtcd).Get(ctx, prefix+node, metav1.GetOptions{})
				if err != nil {
					t.Errorf("secret %s%s: %v", prefix, node, err)
					continue
				}
				if s.Type != corev1.SecretTypeTLS || len(s.Data["tls.crt"]) == 0 || len(s.Data["tls.key"]) == 0 {
					t.Errorf("secret %s: type %s, keys %d", s.Name, s.Type, len(s.Data))
				}
			}
		}
	})

	t.Run("host trees", func(t *testing.T) {
		for _, node := range c.Masters() {
			h := c.Host(node)
			for _, comp := range staticPodComponents {
				rev := initialRevisions[comp]
				for _, p := range []string{
					manifestPath(comp),
					revisionDir(comp, rev) + "/" + comp + "-pod.yaml",
				} {
					if _, err := h.Stat(ctx, p); err != nil {
						t.Errorf("%s: %v", node, err)
					}
				}
				data, err := h.ReadFile(ctx, manifestPath(comp))
				if err != nil {
					t.Fatal(err)
				}
				pod, err := parsePodManifest(data)
				if err != nil {
					t.Fatal(err)
				}
				if manifestRevision(pod) != rev {
					t.Errorf("%s %s: revision label %q, want %d", node, comp, pod.Labels["revision"], rev)
				}
				var volOK bool
				for _, v := range pod.Spec.Volumes {
					volOK = volOK || (v.HostPath != nil && v.HostPath.Path == revisionDir(comp, rev))
				}
				if !volOK {
					t.Errorf("%s %s: no hostPath volume %s", node, comp, revisionDir(comp, rev))
				}
			}
			if fi, err := os.Stat(filepath.Join(h.Root(), "var/lib/etcd/member")); err != nil || !fi.IsDir() {
				t.Errorf("%s: etcd data dir: %v", node, err)
			}
			cs, err := h.Containers(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"etcd", "etcdctl", "etcd-metrics", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
				if !slices.ContainsFunc(cs, func(c host.Container) bool { return c.Name == want }) {
					t.Errorf("%s: no container %s in %+v", node, want, cs)
				}
			}
		}
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func nodeAddress(n *corev1.Node, typ corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == typ {
			return a.Address
		}
	}
	return ""
}

func instanceState(raw *runtime.RawExtension) string {
	if raw == nil {
		return ""
	}
	var st struct {
		InstanceState string `json:"instanceState"`
	}
	_ = json.Unmarshal(raw.Raw, &st)
	return st.InstanceState
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func TestCloseLeavesNoProcess(t *testing.T) {
	t.Parallel() // its own cluster
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, err := New(ctx, Options{Masters: 1, Workers: -1})
	if err != nil {
		t.Fatal(err)
	}
	dir := c.Dir()
	h := c.Host(c.Masters()[0])
	pid := h.kubelet.etcdPID()
	if pid == 0 {
		t.Fatal("etcd not running")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid) {
		t.Errorf("etcd pid %d alive after Close", pid)
	}
	if c.APIServerRunning() {
		t.Error("kube-apiserver running after Close")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary dir %s left behind: %v", dir, err)
	}
}
