package member

import (
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/internal/controlplane"
)

// TestVerifyCountsEitherControlPlaneLabel: a master carrying only one of
// the two control-plane labels (4.5 nodes have only the master label, a
// node may have only control-plane) is a master: its etcd pod is checked
// and it counts towards Expected.
func TestVerifyCountsEitherControlPlaneLabel(t *testing.T) {
	a, b, c := readyNode("a"), readyNode("b"), readyNode("c")
	a.Labels = map[string]string{controlplane.MasterLabel: ""}
	b.Labels = map[string]string{controlplane.ControlPlaneLabel: ""}
	c.Labels = map[string]string{controlplane.MasterLabel: "", controlplane.ControlPlaneLabel: ""}
	w := readyNode("w")
	w.Labels = map[string]string{"node-role.kubernetes.io/worker": ""}
	kube := fake.NewClientset(a, b, c, w, etcdPod("a", nil), etcdPod("b", nil), etcdPod("c", nil))
	f := etcdtest.NewCluster("a", "b", "c")
	v, err := Verify(t.Context(), Deps{Etcd: f, Health: f, Kube: kube}, VerifyOptions{Expected: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK() || len(v.Pods) != 3 {
		t.Fatalf("Verify pods %v, problems %s; want the three masters' pods and no problem", v.Pods, strings.Join(v.Problems, "; "))
	}
}
