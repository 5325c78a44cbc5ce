package lifecycle

import (
	"testing"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// staticPodStatus is the status every kind carries in the test below.
func staticPodStatus() operatorv1.StaticPodOperatorStatus {
	return operatorv1.StaticPodOperatorStatus{
		OperatorStatus: operatorv1.OperatorStatus{LatestAvailableRevision: 7},
		NodeStatuses:   []operatorv1.NodeStatus{{NodeName: "master-0", CurrentRevision: 6, TargetRevision: 7}},
	}
}

// TestOperatorKindsAlike: the one generic client reads every static pod
// operator kind the same way (Revisions: its get; staticPodOf: what the
// waits read from a watch), and the table names exactly the four
// operators StaticPodOperators lists.
func TestOperatorKindsAlike(t *testing.T) {
	meta := metav1.ObjectMeta{Name: objectName, ResourceVersion: "12", Annotations: map[string]string{"k": "v"}}
	spec := operatorv1.StaticPodOperatorSpec{ForceRedeploymentReason: "recovery-1"}
	objects := map[Operator]runtime.Object{
		Etcd: &operatorv1.Etcd{ObjectMeta: meta, Spec: operatorv1.EtcdSpec{StaticPodOperatorSpec: spec},
			Status: operatorv1.EtcdStatus{StaticPodOperatorStatus: staticPodStatus()}},
		KubeAPIServer: &operatorv1.KubeAPIServer{ObjectMeta: meta, Spec: operatorv1.KubeAPIServerSpec{StaticPodOperatorSpec: spec},
			Status: operatorv1.KubeAPIServerStatus{StaticPodOperatorStatus: staticPodStatus()}},
		KubeControllerManager: &operatorv1.KubeControllerManager{ObjectMeta: meta, Spec: operatorv1.KubeControllerManagerSpec{StaticPodOperatorSpec: spec},
			Status: operatorv1.KubeControllerManagerStatus{StaticPodOperatorStatus: staticPodStatus()}},
		KubeScheduler: &operatorv1.KubeScheduler{ObjectMeta: meta, Spec: operatorv1.KubeSchedulerSpec{StaticPodOperatorSpec: spec},
			Status: operatorv1.KubeSchedulerStatus{StaticPodOperatorStatus: staticPodStatus()}},
	}
	if len(operatorKinds) != len(StaticPodOperators()) {
		t.Errorf("the table has %d kinds, StaticPodOperators %d", len(operatorKinds), len(StaticPodOperators()))
	}
	var all []runtime.Object
	for _, op := range StaticPodOperators() {
		all = append(all, objects[op])
	}
	ops := operatorfake.NewClientset(all...)
	for _, op := range StaticPodOperators() {
		t.Run(string(op), func(t *testing.T) {
			s, err := Revisions(t.Context(), ops, op)
			if err != nil {
				t.Fatal(err)
			}
			if s.ForceRedeploymentReason != "recovery-1" || s.LatestAvailableRevision != 7 || len(s.Nodes) != 1 || s.Nodes[0].CurrentRevision != 6 {
				t.Errorf("Revisions %+v", s)
			}
			sp, ok := staticPodOf(objects[op])
			if !ok || sp.Name != objectName || sp.ResourceVersion != "12" || sp.Annotations["k"] != "v" ||
				sp.Spec.ForceRedeploymentReason != "recovery-1" || sp.Status.LatestAvailableRevision != 7 {
				t.Errorf("staticPodOf = %+v, %v", sp, ok)
			}
			c, err := clientFor("test", ops, op)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := staticPodOf(c.empty); ok {
				t.Error("the empty object of the watch reads as a named operator object")
			}
		})
	}
	if _, ok := staticPodOf(&metav1.Status{Status: metav1.StatusFailure}); ok {
		t.Error("a watch's error Status reads as an operator object")
	}
}
