package clustertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// fastOptions are cluster options with short controller ticks for tests.
func fastOptions() Options {
	return Options{Masters: 3, Workers: 1, Interval: 50 * time.Millisecond}
}

// eventually polls cond until it reports true or timeout passes, then
// fails the test with the last state cond described.
func eventually(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, string)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, state := cond(ctx)
		if ctx.Err() == nil {
			last = state
		}
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not reached within %v; last state: %s", what, timeout, last)
	}
}

// etcdCondition returns the Etcd operator condition of type t.
func etcdCondition(ctx context.Context, c *Cluster, typ string) (*operatorv1.OperatorCondition, *operatorv1.Etcd, error) {
	o, err := c.Operator.OperatorV1().Etcds().Get(ctx, "cluster", metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	return operatorCondition(o.Status.Conditions, typ), o, nil
}

func waitEtcdMessage(t *testing.T, c *Cluster, typ, want string) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("etcd %s %q", typ, want), func(ctx context.Context) (bool, string) {
		cond, _, err := etcdCondition(ctx, c, typ)
		if err != nil {
			return false, err.Error()
		}
		if cond == nil {
			return false, "no condition"
		}
		return cond.Message == want, fmt.Sprintf("%s %s: %s", cond.Status, cond.Reason, cond.Message)
	})
}

// forceRedeployment patches spec.forceRedeploymentReason of the named
// operator resource the way the runbook does (oc patch --type=merge).
func forceRedeployment(t *testing.T, c *Cluster, resource string) {
	t.Helper()
	patch := []byte(fmt.Sprintf(`{"spec":{"forceRedeploymentReason":"recovery-%s"}}`, time.Now().Format(time.RFC3339Nano)))
	ctx := t.Context()
	var err error
	ops := c.Operator.OperatorV1()
	switch resource {
	case "etcd":
		_, err = ops.Etcds().Patch(ctx, "cluster", types.MergePatchType, patch, metav1.PatchOptions{})
	case "kubeapiserver":
		_, err = ops.KubeAPIServers().Patch(ctx, "cluster", types.MergePatchType, patch, metav1.PatchOptions{})
	case "kubecontrollermanager":
		_, err = ops.KubeControllerManagers().Patch(ctx, "cluster", types.MergePatchType, patch, metav1.PatchOptions{})
	case "kubescheduler":
		_, err = ops.KubeSchedulers().Patch(ctx, "cluster", types.MergePatchType, patch, metav1.PatchOptions{})
	default:
		t.Fatalf("unknown resource %s", resource)
	}
	if err != nil {
		t.Fatalf("patching %s: %v", resource, err)
	}
}

// staticPodStatus reads the static pod status of one of the four operators.
func staticPodStatus(ctx context.Context, c *Cluster, resource string) (*operatorv1.StaticPodOperatorStatus, error) {
	ops := c.Operator.OperatorV1()
	switch resource {
	case "etcd":
		o, err := ops.Etcds().Get(ctx, "cluster", metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return &o.Status.StaticPodOperatorStatus, nil
	case "kubeapiserver":
		o, err := ops.KubeAPIServers().Get(ctx, "cluster", metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return &o.Status.StaticPodOperatorStatus, nil
	case "kubecontrollermanager":
		o, err := ops.KubeControllerManagers().Get(ctx, "cluster", metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return &o.Status.StaticPodOperatorStatus, nil
	case "kubescheduler":
		o, err := ops.KubeSchedulers().Get(ctx, "cluster", metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return &o.Status.StaticPodOperatorStatus, nil
	}
	return nil, fmt.Errorf("unknown resource %s", resource)
}

// waitAllAtRevision waits until NodeInstallerProgressing says every master
// is at a revision above before, and returns that revision.
func waitAllAtRevision(t *testing.T, c *Cluster, resource string, before int32, nodes int) int32 {
	t.Helper()
	var latest int32
	eventually(t, 60*time.Second, resource+" rollout", func(ctx context.Context) (bool, string) {
		st, err := staticPodStatus(ctx, c, resource)
		if err != nil {
			return false, err.Error()
		}
		latest = st.LatestAvailableRevision
		cond := operatorCondition(st.Conditions, condNodeInstallerProgressing)
		if cond == nil {
			return false, "no NodeInstallerProgressing"
		}
		state := fmt.Sprintf("latest %d, %s %s: %s", latest, cond.Status, cond.Reason, cond.Message)
		return latest > before && cond.Status == operatorv1.ConditionFalse && cond.Reason == reasonAllNodesAtLatest &&
			cond.Message == fmt.Sprintf("%d nodes are at revision %d", nodes, latest), state
	})
	return latest
}

func TestStaticPodOperators(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, fastOptions())
	ctx := t.Context()
	masters := c.Masters()

	waitEtcdMessage(t, c, condEtcdMembersAvailable, "3 members are available")

	victim := masters[1]
	if err := c.KillEtcd(ctx, victim); err != nil {
		t.Fatal(err)
	}
	waitEtcdMessage(t, c, condEtcdMembersAvailable, fmt.Sprintf("2 of 3 members are available, %s is unhealthy", victim))
	cond, _, err := etcdCondition(ctx, c, condEtcdMembersDegraded)
	if err != nil || cond == nil || cond.Status != operatorv1.ConditionTrue || cond.Reason != "UnhealthyMembers" {
		t.Errorf("EtcdMembersDegraded = %+v, %v; want True UnhealthyMembers", cond, err)
	}
	eventually(t, 10*time.Second, "clusteroperator etcd Degraded", func(ctx context.Context) (bool, string) {
		co, err := c.Config.ConfigV1().ClusterOperators().Get(ctx, "etcd", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cd := range co.Status.Conditions {
			if cd.Type == "Degraded" {
				return cd.Status == "True" && strings.Contains(cd.Message, victim+" is unhealthy"), fmt.Sprintf("%+v", cd)
			}
		}
		return false, "no Degraded"
	})

	// A forced redeployment moves every node to a new revision, one at a
	// time, and restarts the killed member with the new manifest.
	st, err := staticPodStatus(ctx, c, "etcd")
	if err != nil {
		t.Fatal(err)
	}
	before := st.LatestAvailableRevision
	forceRedeployment(t, c, "etcd")
	sawProgress := false
	eventually(t, 10*time.Second, "NodeInstallerProgressing True", func(ctx context.Context) (bool, string) {
		cond, _, err := etcdCondition(ctx, c, condNodeInstallerProgressing)
		if err != nil || cond == nil {
			return false, fmt.Sprint(err)
		}
		if cond.Status == operatorv1.ConditionTrue && cond.Reason == reasonNodeInstaller {
			sawProgress = true
		}
		return sawProgress || cond.Reason == reasonAllNodesAtLatest && strings.Contains(cond.Message, fmt.Sprintf("revision %d", before+1)), cond.Message
	})
	latest := waitAllAtRevision(t, c, "etcd", before, len(masters))
	if latest != before+1 {
		t.Errorf("latest revision = %d, want %d", latest, before+1)
	}
	for _, m := range masters {
		b, err := os.ReadFile(hostManifestPath(c.Host(m), "etcd"))
		if err != nil {
			t.Fatal(err)
		}
		if got := fileRevision(b); got != latest {
			t.Errorf("%s: etcd-pod.yaml revision %d, want %d", m, got, latest)
		}
		if _, err := os.Stat(filepath.Join(hostRevisionDir(c.Host(m), "etcd", latest), "etcd-pod.yaml")); err != nil {
			t.Errorf("%s: revision %d resources: %v", m, latest, err)
		}
	}
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "3 members are available")

	testStaticPodRollouts(t, c)
}

// testStaticPodRollouts forces a redeployment of the three other static pod
// operators and checks every master reaches the new revision.
func testStaticPodRollouts(t *testing.T, c *Cluster) {
	ctx := t.Context()
	for _, tc := range []struct {
		resource, component string
	}{
		{"kubeapiserver", "kube-apiserver"},
		{"kubecontrollermanager", "kube-controller-manager"},
		{"kubescheduler", "kube-scheduler"},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			st, err := staticPodStatus(ctx, c, tc.resource)
			if err != nil {
				t.Fatal(err)
			}
			before := st.LatestAvailableRevision
			forceRedeployment(t, c, tc.resource)
			latest := waitAllAtRevision(t, c, tc.resource, before, len(c.Masters()))
			if latest != before+1 {
				t.Errorf("latest = %d, want %d", latest, before+1)
			}
			for _, m := range c.Masters() {
				b, err := os.ReadFile(hostManifestPath(c.Host(m), tc.component))
				if err != nil {
					t.Fatal(err)
				}
				if got := fileRevision(b); got != latest {
					t.Errorf("%s: %s manifest at revision %d, want %d", m, tc.component, got, latest)
				}
			}
		})
	}
}

func TestSetNodeInstallerProgressing(t *testing.T) {
	for _, tc := range []struct {
		name       string
		latest     int32
		revs       []int32
		wantStatus operatorv1.ConditionStatus
		wantReason string
		wantMsg    string
	}{
		{"all at latest", 7, []int32{7, 7, 7}, operatorv1.ConditionFalse, reasonAllNodesAtLatest, "3 nodes are at revision 7"},
		{"one moved", 7, []int32{6, 7, 6}, operatorv1.ConditionTrue, reasonNodeInstaller, "2 nodes are at revision 6; 1 nodes are at revision 7"},
		{"none moved yet", 7, []int32{6, 6, 6}, operatorv1.ConditionTrue, reasonNodeInstaller, "3 nodes are at revision 6; 0 nodes have achieved new revision 7"},
		{"new node", 4, []int32{4, 0, 4}, operatorv1.ConditionTrue, reasonNodeInstaller, "1 nodes are at revision 0; 2 nodes are at revision 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &operatorv1.StaticPodOperatorStatus{}
			st.LatestAvailableRevision = tc.latest
			for i, r := range tc.revs {
				st.NodeStatuses = append(st.NodeStatuses, operatorv1.NodeStatus{NodeName: fmt.Sprintf("m%d", i), CurrentRevision: r})
			}
			setNodeInstallerProgressing(st)
			cond := operatorCondition(st.Conditions, condNodeInstallerProgressing)
			if cond.Status != tc.wantStatus || cond.Reason != tc.wantReason || cond.Message != tc.wantMsg {
				t.Errorf("got %s %s %q, want %s %s %q", cond.Status, cond.Reason, cond.Message, tc.wantStatus, tc.wantReason, tc.wantMsg)
			}
		})
	}
}

func TestEtcdMembersMessage(t *testing.T) {
	for _, tc := range []struct {
		name                          string
		available, unhealthy, pending []string
		total                         int
		want                          string
	}{
		{"all", []string{"a", "b", "c"}, nil, nil, 3, "3 members are available"},
		{"one unhealthy", []string{"a", "c"}, []string{"ip-10-0-131-183.ec2.internal"}, nil, 3, "2 of 3 members are available, ip-10-0-131-183.ec2.internal is unhealthy"},
		{"one not started", []string{"a", "b"}, nil, []string{"NAME-PENDING-10.0.0.4"}, 3, "2 of 3 members are available, NAME-PENDING-10.0.0.4 has not started"},
		{"both", []string{"a"}, []string{"b"}, []string{"NAME-PENDING-x"}, 3, "1 of 3 members are available, b is unhealthy, NAME-PENDING-x has not started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := etcdMembersMessage(tc.available, tc.unhealthy, tc.pending, tc.total); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCrashloopingMemberReplaced runs runbook 2.4.2 on the simulator: the
// crashlooping member's manifest and data directory are moved aside, the
// member and its secrets are removed, and a forced redeployment adds it back
// as a new member with new secrets.
func TestCrashloopingMemberReplaced(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, fastOptions())
	ctx := t.Context()
	victim := c.Masters()[1]
	if err := c.CrashloopEtcd(ctx, victim); err != nil {
		t.Fatal(err)
	}
	waitEtcdMessage(t, c, condEtcdMembersAvailable, fmt.Sprintf("2 of 3 members are available, %s is unhealthy", victim))
	waitEtcdPodCrashing(t, c, victim)

	// 1. Stop the crashlooping pod and move its data directory.
	h := c.Host(victim)
	steps := []struct{ op, a, b string }{
		{"mkdir", "/var/lib/etcd-backup", ""},
		{"mv", "/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd-backup/etcd-pod.yaml"},
		{"mv", "/var/lib/etcd", "/tmp/etcd"},
	}
	for _, s := range steps {
		var err error
		if s.op == "mkdir" {
			err = h.MkdirAll(ctx, s.a, 0o700)
		} else {
			err = h.Move(ctx, s.a, s.b)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", s.op, s.a, err)
		}
	}

	// 2. Remove the member; 3. remove its secrets.
	cli, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var oldID uint64
	for _, m := range list.Members {
		if m.Name == victim {
			oldID = m.ID
			if _, err := cli.MemberRemove(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if oldID == 0 {
		t.Fatalf("no member %s", victim)
	}
	for _, p := range []string{"etcd-peer-", "etcd-serving-", "etcd-serving-metrics-"} {
		if err := c.Kube.CoreV1().Secrets(nsEtcd).Delete(ctx, p+victim, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "2 members are available")

	// 4. Force etcd redeployment.
	st, err := staticPodStatus(ctx, c, "etcd")
	if err != nil {
		t.Fatal(err)
	}
	forceRedeployment(t, c, "etcd")
	waitAllAtRevision(t, c, "etcd", st.LatestAvailableRevision, 3)
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "3 members are available")

	list, err = cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range list.Members {
		if m.Name == victim {
			found = true
			if m.ID == oldID {
				t.Errorf("member %s kept its old ID", victim)
			}
		}
	}
	if !found || len(list.Members) != 3 {
		t.Errorf("members after redeployment: %v", list.Members)
	}
	for _, p := range []string{"etcd-peer-", "etcd-serving-", "etcd-serving-metrics-"} {
		if _, err := c.Kube.CoreV1().Secrets(nsEtcd).Get(ctx, p+victim, metav1.GetOptions{}); err != nil {
			t.Errorf("secret %s%s: %v", p, victim, err)
		}
	}
	if _, err := os.Stat(filepath.Join(h.Root(), "tmp", "etcd", "member")); err != nil {
		t.Errorf("moved data directory: %v", err)
	}
}

// waitEtcdPodCrashing waits for the etcd pod of node to show Error or
// CrashLoopBackOff, as "oc get pods -n openshift-etcd" does.
func waitEtcdPodCrashing(t *testing.T, c *Cluster, victim string) {
	t.Helper()
	eventually(t, 30*time.Second, "etcd pod Error/CrashLoopBackOff", func(ctx context.Context) (bool, string) {
		pod, err := c.Kube.CoreV1().Pods("openshift-etcd").Get(ctx, "etcd-"+victim, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name != "etcd" {
				continue
			}
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				return true, "CrashLoopBackOff"
			}
			if tm := cs.State.Terminated; tm != nil && tm.Reason == "Error" {
				return true, "Error"
			}
			return false, fmt.Sprintf("%+v", cs.State)
		}
		return false, "no etcd container status"
	})
}
