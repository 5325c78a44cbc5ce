package member

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

func TestFindUnhealthyMember(t *testing.T) {
	masters := []string{"master-0", "master-1", "master-2"}
	allReady := func() []runtime.Object {
		var o []runtime.Object
		for _, m := range masters {
			o = append(o, readyNode(m), etcdPod(m, nil))
		}
		return o
	}
	with := func(base []runtime.Object, replace ...runtime.Object) []runtime.Object {
		out := []runtime.Object{}
		for _, b := range base {
			keep := true
			for _, r := range replace {
				if sameObject(b, r) {
					keep = false
				}
			}
			if keep {
				out = append(out, b)
			}
		}
		return append(out, replace...)
	}
	runningMachines := func(stopped string) []runtime.Object {
		var o []runtime.Object
		for i, m := range masters {
			state := "running"
			if m == stopped {
				state = "stopped"
			}
			o = append(o, machine("cluster-master-"+string(rune('0'+i)), m, state, "Running"))
		}
		return o
	}
	unstarted := func() *etcdtest.Cluster {
		f := etcdtest.NewCluster("master-1", "master-2")
		return f.Add(&pb.Member{ID: 0x9, PeerURLs: []string{"https://10.0.0.9:2380"}})
	}
	nodeWithAddr := func() *corev1.Node {
		n := notReadyNode("master-9", false)
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.9"}}
		return n
	}

	tests := []struct {
		name         string
		etcd         etcdtest.Client
		condition    string
		kube         []runtime.Object
		machines     []runtime.Object // nil: no Machine API client
		wantErr      error
		wantMember   string
		wantNode     string
		wantState    State
		disagreement string
		evidence     []string
	}{
		{
			name: "machine not running", etcd: etcdtest.NewCluster(masters...).Down("master-0"),
			condition: "2 of 3 members are available, master-0 is unhealthy",
			kube:      with(allReady(), notReadyNode("master-0", true)), machines: runningMachines("master-0"),
			wantMember: "master-0", wantState: MachineNotRunning,
			evidence: []string{"machine cluster-master-0 of node master-0 has instanceState stopped: the machine is not running",
				"node master-0 is listed with an unreachable taint", "https://10.0.0.1:2379 is unhealthy"},
		},
		{
			name: "node unreachable, machine running", etcd: etcdtest.NewCluster(masters...).Down("master-1"),
			condition: "2 of 3 members are available, master-1 is unhealthy",
			kube:      with(allReady(), notReadyNode("master-1", true)), machines: runningMachines(""),
			wantMember: "master-1", wantState: NodeNotReady,
			evidence: []string{"machine cluster-master-1 of node master-1 is running", "unreachable taint (node.kubernetes.io/unreachable:NoSchedule): the node is not ready"},
		},
		{
			name: "node NotReady without taint", etcd: etcdtest.NewCluster(masters...).Down("master-2"),
			condition: "2 of 3 members are available, master-2 is unhealthy",
			kube:      with(allReady(), notReadyNode("master-2", false)), machines: runningMachines(""),
			wantMember: "master-2", wantState: NodeNotReady,
			evidence: []string{"node master-2 is listed as NotReady (Ready=Unknown NodeStatusUnknown): the node is not ready"},
		},
		{
			name: "node object gone", etcd: etcdtest.NewCluster(masters...).Down("master-2"),
			condition:  "2 of 3 members are available, master-2 is unhealthy",
			kube:       []runtime.Object{readyNode("master-0"), readyNode("master-1")},
			wantMember: "master-2", wantState: NodeNotReady,
			evidence: []string{"machine check skipped: no Machine API client", "node master-2 does not exist: the node is not ready"},
		},
		{
			name: "etcd pod CrashLoopBackOff", etcd: etcdtest.NewCluster(masters...).Down("master-0"),
			condition: "2 of 3 members are available, master-0 is unhealthy",
			kube:      with(allReady(), etcdPod("master-0", crashLoop)), machines: runningMachines(""),
			wantMember: "master-0", wantState: EtcdPodCrashlooping,
			evidence: []string{"node master-0 is Ready", "pod openshift-etcd/etcd-master-0 status is CrashLoopBackOff (7 restarts): the etcd pod is crashlooping"},
		},
		{
			name: "etcd pod Error", etcd: etcdtest.NewCluster(masters...).Down("master-0"),
			condition:  "2 of 3 members are available, master-0 is unhealthy",
			kube:       with(allReady(), etcdPod("master-0", errorExit)),
			wantMember: "master-0", wantState: EtcdPodCrashlooping,
			evidence: []string{"status is Error (7 restarts): the etcd pod is crashlooping"},
		},
		{
			name: "healthy again", etcd: etcdtest.NewCluster(masters...),
			condition: "2 of 3 members are available, master-0 is unhealthy", kube: allReady(),
			wantMember: "master-0", wantState: Healthy,
			disagreement: "names master-0, but it answers its health check now",
			evidence:     []string{"needs no replacement"},
		},
		{
			name: "condition lags: says all available", etcd: etcdtest.NewCluster(masters...).Down("master-1"),
			condition: "3 members are available", kube: with(allReady(), etcdPod("master-1", crashLoop)),
			wantMember: "master-1", wantState: EtcdPodCrashlooping,
			disagreement: "reports every member available, but the health checks find master-1 unhealthy",
		},
		{
			name: "condition names another member", etcd: etcdtest.NewCluster(masters...).Down("master-1"),
			condition: "2 of 3 members are available, master-0 is unhealthy", kube: with(allReady(), notReadyNode("master-1", true)),
			wantMember: "master-1", wantState: NodeNotReady,
			disagreement: "names master-0, but the health checks find master-1 unhealthy",
		},
		{
			name: "no condition", etcd: etcdtest.NewCluster(masters...).Down("master-1"),
			kube:       with(allReady(), notReadyNode("master-1", true)),
			wantMember: "master-1", wantState: NodeNotReady,
			evidence: []string{"EtcdMembersAvailable condition not set"},
		},
		{
			name: "unhealthy but every check passes", etcd: etcdtest.NewCluster(masters...).Down("master-2"),
			condition: "2 of 3 members are available, master-2 is unhealthy", kube: allReady(), machines: runningMachines(""),
			wantMember: "master-2", wantState: Unknown,
			evidence: []string{"pod openshift-etcd/etcd-master-2 status is Running"},
		},
		{
			name: "unstarted member found by address", etcd: unstarted(),
			condition:  "2 of 3 members are available, 10.0.0.9 has not started",
			kube:       with(allReady(), nodeWithAddr()),
			wantMember: "10.0.0.9", wantNode: "master-9", wantState: NodeNotReady,
			evidence: []string{"10.0.0.9 (9) has not started"},
		},
		{
			name: "two of three down: quorum lost", etcd: etcdtest.NewCluster(masters...).Down("master-0", "master-1"),
			condition: "1 of 3 members are available, master-0 is unhealthy, master-1 is unhealthy", kube: allReady(),
			wantErr: ErrQuorumLost,
		},
		{
			name: "member list unavailable, condition says quorum lost",
			// A linearizable list times out; a serializable one knows no
			// member.
			etcd: etcdtest.Wrap(etcdtest.NewCluster(), etcdtest.Funcs{
				MemberList: func(ctx context.Context, next etcdtest.Client, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
					if len(opts) == 0 {
						return nil, errors.New("etcdserver: request timed out")
					}
					return next.MemberList(ctx, opts...)
				},
			}),
			condition: "1 of 3 members are available, master-0 is unhealthy, master-1 is unhealthy",
			wantErr:   ErrQuorumLost,
		},
		{
			name: "all healthy", etcd: etcdtest.NewCluster(masters...), condition: "3 members are available", kube: allReady(),
			wantErr: ErrNoUnhealthyMember,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ops []runtime.Object
			ops = append(ops, etcdOperator(tc.condition))
			deps := Deps{
				Etcd: tc.etcd, Health: tc.etcd,
				Operator: operatorfake.NewClientset(ops...),
				Kube:     kubefake.NewClientset(tc.kube...),
			}
			if tc.machines != nil {
				deps.Machine = machinefake.NewClientset(tc.machines...)
			}
			f, err := FindUnhealthyMember(t.Context(), deps, FindOptions{Logger: quiet})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if errors.Is(err, ErrQuorumLost) && !strings.Contains(err.Error(), "restore.Plan") {
					t.Errorf("quorum error does not point to the restore procedure: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Member.DisplayName(); got != tc.wantMember {
				t.Errorf("member %q, want %q", got, tc.wantMember)
			}
			wantNode := tc.wantNode
			if wantNode == "" {
				wantNode = tc.wantMember
			}
			if f.Node != wantNode {
				t.Errorf("node %q, want %q", f.Node, wantNode)
			}
			if f.State != tc.wantState {
				t.Errorf("state %s, want %s; evidence:\n%s", f.State, tc.wantState, strings.Join(f.Evidence, "\n"))
			}
			if tc.disagreement == "" && f.Disagreement != "" || !strings.Contains(f.Disagreement, tc.disagreement) {
				t.Errorf("disagreement %q, want %q", f.Disagreement, tc.disagreement)
			}
			all := strings.Join(f.Evidence, "\n")
			for _, e := range tc.evidence {
				if !strings.Contains(all, e) {
					t.Errorf("evidence lacks %q:\n%s", e, all)
				}
			}
		})
	}
}

func sameObject(a, b runtime.Object) bool {
	type named interface{ GetName() string }
	an, ok1 := a.(named)
	bn, ok2 := b.(named)
	return ok1 && ok2 && an.GetName() == bn.GetName() && strings.HasPrefix(typeName(a), typeName(b))
}

func typeName(o runtime.Object) string {
	switch o.(type) {
	case *corev1.Node:
		return "node"
	case *corev1.Pod:
		return "pod"
	}
	return "other"
}

func TestStateProcedure(t *testing.T) {
	for s, want := range map[State]string{MachineNotRunning: "2.4.1", NodeNotReady: "2.4.1", EtcdPodCrashlooping: "2.4.2", Healthy: "", Unknown: ""} {
		if got := s.Procedure(); got != want {
			t.Errorf("%s.Procedure() = %q, want %q", s, got, want)
		}
	}
}

// Five members, two down: quorum holds; the first one both sources name is
// returned, the other is listed for a later replacement.
func TestFindUnhealthyMemberSeveral(t *testing.T) {
	f := etcdtest.NewCluster("m0", "m1", "m2", "m3", "m4").Down("m1", "m3")
	var kube []runtime.Object
	for _, n := range []string{"m0", "m2", "m4"} {
		kube = append(kube, readyNode(n))
	}
	kube = append(kube, notReadyNode("m1", true), notReadyNode("m3", true))
	deps := Deps{Etcd: f, Health: f, Kube: kubefake.NewClientset(kube...),
		Operator: operatorfake.NewClientset(etcdOperator("3 of 5 members are available, m3 is unhealthy, m1 is unhealthy"))}
	got, err := FindUnhealthyMember(t.Context(), deps, FindOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if got.Member.Name != "m1" || got.State != NodeNotReady || len(got.OtherUnhealthy) != 1 || got.OtherUnhealthy[0].Name != "m3" || got.Disagreement != "" {
		t.Fatalf("member %s state %s others %v disagreement %q", got.Member.Name, got.State, got.OtherUnhealthy, got.Disagreement)
	}
}
