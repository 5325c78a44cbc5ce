package member_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/member"
)

// newExampleEtcd stands in for a *clientv3.Client (etcdtest): three
// members, one of which (ip-10-0-131-183) does not answer.
func newExampleEtcd() *etcdtest.Cluster {
	m := func(id uint64, name, ip string) *pb.Member {
		return &pb.Member{ID: id, Name: name, PeerURLs: []string{"https://" + ip + ":2380"}, ClientURLs: []string{"https://" + ip + ":2379"}}
	}
	return etcdtest.NewCluster().
		Add(m(0x6fc1e7c9db35841d, "ip-10-0-131-183.ec2.internal", "10.0.131.183")).
		Add(m(0x757b6793e2408b6c, "ip-10-0-164-97.ec2.internal", "10.0.164.97")).
		Add(m(0xca8c2990a0aa29d1, "ip-10-0-154-204.ec2.internal", "10.0.154.204")).
		Down("ip-10-0-131-183.ec2.internal")
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func ExampleFindUnhealthyMember() {
	ctx := context.Background()
	etcd := newExampleEtcd()
	operator := operatorfake.NewClientset(&operatorv1.Etcd{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
		Status: operatorv1.EtcdStatus{StaticPodOperatorStatus: operatorv1.StaticPodOperatorStatus{OperatorStatus: operatorv1.OperatorStatus{
			Conditions: []operatorv1.OperatorCondition{{Type: "EtcdMembersAvailable", Status: "True",
				Message: "2 of 3 members are available, ip-10-0-131-183.ec2.internal is unhealthy"}},
		}}},
	})
	// The node is NotReady, with the unreachable taint.
	kube := kubefake.NewClientset(&corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-131-183.ec2.internal"},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "node.kubernetes.io/unreachable", Effect: "NoSchedule"}}},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: "Ready", Status: "Unknown"}}},
	})

	f, err := member.FindUnhealthyMember(ctx, member.Deps{Etcd: etcd, Health: etcd, Operator: operator, Kube: kube},
		member.FindOptions{Logger: discard})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s (%x) is %s: follow %s\n", f.Member.Name, f.Member.ID, f.State, f.State.Procedure())
	for _, e := range f.Report.Evidence {
		fmt.Println(" -", e)
	}
	// Output:
	// ip-10-0-131-183.ec2.internal (6fc1e7c9db35841d) is NodeNotReady: follow 2.4.1
	//  - machine check skipped: no Machine API client
	//  - node ip-10-0-131-183.ec2.internal is listed with an unreachable taint (node.kubernetes.io/unreachable:NoSchedule): the node is not ready
	//  - node ip-10-0-131-183.ec2.internal is listed as NotReady (Ready=Unknown): the node is not ready
}

func ExampleRemoveMember() {
	ctx := context.Background()
	etcd := newExampleEtcd()
	opts := member.RemoveOptions{Health: etcd, Logger: discard}

	// A healthy member is refused.
	_, err := member.RemoveMember(ctx, etcd, 0x757b6793e2408b6c, opts)
	fmt.Println(errors.Is(err, member.ErrMemberHealthy))

	// The unhealthy one is removed, and the list printed as etcdctl does.
	res, err := member.RemoveMember(ctx, etcd, 0x6fc1e7c9db35841d, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("Member %x removed\n", res.Removed.ID)
	fmt.Print(member.MemberTable(res.After))

	// Removing it again is a no-op.
	res, _ = member.RemoveMember(ctx, etcd, 0x6fc1e7c9db35841d, opts)
	fmt.Println("already absent:", res.AlreadyAbsent)
	// Output:
	// true
	// Member 6fc1e7c9db35841d removed
	// ┌──────────────────┬─────────┬──────────────────────────────┬───────────────────────────┬───────────────────────────┬────────────┐
	// │        ID        │ STATUS  │             NAME             │        PEER ADDRS         │       CLIENT ADDRS        │ IS LEARNER │
	// ├──────────────────┼─────────┼──────────────────────────────┼───────────────────────────┼───────────────────────────┼────────────┤
	// │ 757b6793e2408b6c │ started │  ip-10-0-164-97.ec2.internal │  https://10.0.164.97:2380 │  https://10.0.164.97:2379 │      false │
	// │ ca8c2990a0aa29d1 │ started │ ip-10-0-154-204.ec2.internal │ https://10.0.154.204:2380 │ https://10.0.154.204:2379 │      false │
	// └──────────────────┴─────────┴──────────────────────────────┴───────────────────────────┴───────────────────────────┴────────────┘
	// already absent: true
}

func ExampleDeleteMemberSecrets() {
	ctx := context.Background()
	node := "ip-10-0-131-183.ec2.internal"
	var objs []corev1.Secret
	for _, name := range member.SecretNames(node) {
		objs = append(objs, corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "openshift-etcd"}, Type: corev1.SecretTypeTLS})
	}
	kube := kubefake.NewClientset(&objs[0], &objs[1], &objs[2])

	deleted, err := member.DeleteMemberSecrets(ctx, kube, node)
	fmt.Println(deleted, err)
	deleted, err = member.DeleteMemberSecrets(ctx, kube, node)
	fmt.Println(deleted, err)
	// Output:
	// [etcd-peer-ip-10-0-131-183.ec2.internal etcd-serving-ip-10-0-131-183.ec2.internal etcd-serving-metrics-ip-10-0-131-183.ec2.internal] <nil>
	// [] <nil>
}
