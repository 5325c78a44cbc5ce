package restore

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/controlplane"
)

// TestMasterNodesEitherLabel: verify-members waits for the etcd pod of
// every master, a master being a node with either control-plane label
// (one carrying only one of them included), never a worker.
func TestMasterNodesEitherLabel(t *testing.T) {
	node := func(name string, labels ...string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
		for _, l := range labels {
			n.Labels[l] = ""
		}
		return n
	}
	kube := kubefake.NewClientset(
		node("master-0", controlplane.MasterLabel),
		node("master-1", controlplane.ControlPlaneLabel),
		node("master-2", controlplane.MasterLabel, controlplane.ControlPlaneLabel),
		node("worker-0", "node-role.kubernetes.io/worker"),
	)
	r := &runner{deps: Deps{Kube: kube, Recovery: host.NewLocal("master-0", t.TempDir(), host.LocalOptions{})}}
	got, err := r.masterNodes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"master-0", "master-1", "master-2"}; !slices.Equal(got, want) {
		t.Errorf("masterNodes = %v, want %v", got, want)
	}
}
