package member

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	operatorv1 "github.com/openshift/api/operator/v1"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// fakeEtcd is a Cluster and HealthChecker over an in-memory member list.
type fakeEtcd struct {
	mu        sync.Mutex
	members   []*pb.Member
	unhealthy map[string]bool // client URL -> unhealthy
	listErr   error           // returned by a linearizable MemberList
	removeErr error
	removed   []uint64
}

func newFakeEtcd(names ...string) *fakeEtcd {
	f := &fakeEtcd{unhealthy: map[string]bool{}}
	for i, n := range names {
		f.members = append(f.members, &pb.Member{
			ID:         uint64(0x1000 + i),
			Name:       n,
			PeerURLs:   []string{fmt.Sprintf("https://10.0.0.%d:2380", i+1)},
			ClientURLs: []string{fmt.Sprintf("https://10.0.0.%d:2379", i+1)},
		})
	}
	return f
}

func (f *fakeEtcd) down(names ...string) *fakeEtcd {
	for _, n := range names {
		for _, m := range f.members {
			if m.Name == n {
				f.unhealthy[m.ClientURLs[0]] = true
			}
		}
	}
	return f
}

func (f *fakeEtcd) byName(n string) *pb.Member {
	for _, m := range f.members {
		if m.Name == n {
			return m
		}
	}
	return nil
}

func (f *fakeEtcd) MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil && len(opts) == 0 {
		return nil, f.listErr
	}
	return &clientv3.MemberListResponse{Members: append([]*pb.Member(nil), f.members...)}, nil
}

func (f *fakeEtcd) MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removeErr != nil {
		return nil, f.removeErr
	}
	for i, m := range f.members {
		if m.ID == id {
			f.members = append(f.members[:i], f.members[i+1:]...)
			f.removed = append(f.removed, id)
			return &clientv3.MemberRemoveResponse{}, nil
		}
	}
	return nil, rpctypes.ErrMemberNotFound
}

func (f *fakeEtcd) CheckHealth(ctx context.Context, url string) error {
	f.mu.Lock()
	bad := f.unhealthy[url]
	f.mu.Unlock()
	if bad {
		return errors.New("context deadline exceeded")
	}
	return nil
}

func etcdOperator(msg string) *operatorv1.Etcd {
	e := &operatorv1.Etcd{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	if msg != "" {
		e.Status.Conditions = []operatorv1.OperatorCondition{{Type: EtcdMembersAvailable, Status: operatorv1.ConditionTrue, Message: msg}}
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
