package member

import (
	"io"
	"log/slog"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	operatorv1 "github.com/openshift/api/operator/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func etcdOperator(msg string) *operatorv1.Etcd {
	e := &operatorv1.Etcd{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	if msg != "" {
		e.Status.Conditions = []operatorv1.OperatorCondition{{Type: etcdMembersAvailable, Status: operatorv1.ConditionTrue, Message: msg}}
	}
	return e
}

func readyNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"node-role.kubernetes.io/master": ""}},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

func notReadyNode(name string, unreachable bool) *corev1.Node {
	n := readyNode(name)
	n.Status.Conditions[0].Status = corev1.ConditionUnknown
	n.Status.Conditions[0].Reason = "NodeStatusUnknown"
	if unreachable {
		n.Spec.Taints = []corev1.Taint{{Key: taintUnreachable, Effect: corev1.TaintEffectNoSchedule}}
	}
	return n
}

func etcdPod(node string, mutate func(*corev1.PodStatus)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd-" + node, Namespace: etcdNamespace, Labels: map[string]string{"app": "etcd"}},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "etcd", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		}},
	}
	if mutate != nil {
		mutate(&p.Status)
	}
	return p
}

func crashLoop(s *corev1.PodStatus) {
	s.ContainerStatuses[0] = corev1.ContainerStatus{Name: "etcd", RestartCount: 7,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}
}

func errorExit(s *corev1.PodStatus) {
	s.ContainerStatuses[0] = corev1.ContainerStatus{Name: "etcd", RestartCount: 7,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}}
}

func machine(name, node, state string, phase string) *machinev1beta1.Machine {
	m := &machinev1beta1.Machine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: machineNamespace,
			Labels:      map[string]string{"machine.openshift.io/cluster-api-machine-role": "master"},
			Annotations: map[string]string{"machine.openshift.io/instance-state": state},
			UID:         "a282eb70", ResourceVersion: "13291", Generation: 2},
		Spec: machinev1beta1.MachineSpec{ProviderID: ptr("aws:///us-east-1a/i-0fdb85790d76d0c3f")},
	}
	if node != "" {
		m.Status.NodeRef = &corev1.ObjectReference{Kind: "Node", Name: node}
	}
	if state != "" {
		m.Status.ProviderStatus = &runtime.RawExtension{Raw: []byte(`{"kind":"AWSMachineProviderStatus","instanceId":"i-0fdb","instanceState":"` + state + `"}`)}
	}
	if phase != "" {
		m.Status.Phase = ptr(phase)
	}
	return m
}

func ptr[T any](v T) *T { return &v }
