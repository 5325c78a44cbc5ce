package controlplane

import (
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

func node(name string, labels ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for _, l := range labels {
		n.Labels[l] = ""
	}
	return n
}

// TestNodes: a node carrying only one of the two labels is a master, one
// carrying both is listed once, a worker is not.
func TestNodes(t *testing.T) {
	kube := fake.NewClientset(
		node("master-2", MasterLabel, ControlPlaneLabel),
		node("master-0", MasterLabel),
		node("master-1", ControlPlaneLabel),
		node("worker-0", "node-role.kubernetes.io/worker"),
	)
	nodes, err := Nodes(t.Context(), kube)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range nodes {
		names = append(names, nodes[i].Name)
		if !IsNode(&nodes[i]) {
			t.Errorf("IsNode(%s) = false", nodes[i].Name)
		}
	}
	if want := "[master-0 master-1 master-2]"; fmt.Sprint(names) != want {
		t.Errorf("Nodes = %v, want %s", names, want)
	}
	if IsNode(node("worker-0", "node-role.kubernetes.io/worker")) {
		t.Error("IsNode(worker) = true")
	}
}

func TestNodesListError(t *testing.T) {
	boom := errors.New("apiserver down")
	kube := fake.NewClientset()
	kube.PrependReactor("list", "nodes", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, boom })
	if _, err := Nodes(t.Context(), kube); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v wrapped", err, boom)
	}
}
