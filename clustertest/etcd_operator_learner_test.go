package clustertest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEtcdOperatorAddsLearnerThenPromotes replaces a member the way runbook
// 2.4.2 does (pod manifest and data directory moved aside, member removed,
// forced redeployment) and checks that the simulated etcd operator adds the
// new member as a learner and promotes it once caught up, as
// cluster-etcd-operator does: its events say MemberAddAsLearner, then
// MemberPromote, for that node; the rollout completes only once the member
// votes; and no learner is left.
func TestEtcdOperatorAddsLearnerThenPromotes(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, fastOptions())
	ctx := t.Context()
	victim := c.Masters()[2]
	cli := stopAndRemoveMember(t, c, victim)

	st, err := staticPodStatus(ctx, c, "etcd")
	if err != nil {
		t.Fatal(err)
	}
	forceRedeployment(t, c, "etcd")
	waitAllAtRevision(t, c, "etcd", st.LatestAvailableRevision, 3)
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "3 members are available")

	// Once the rollout is done, the member votes.
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Members) != 3 {
		t.Fatalf("%d members after the redeployment, want 3", len(list.Members))
	}
	for _, m := range list.Members {
		if m.IsLearner {
			t.Errorf("member %s is still a learner after the rollout completed", m.Name)
		}
	}

	// The operator's events: added as a learner, then promoted.
	var reasons []string
	eventually(t, 20*time.Second, "MemberAddAsLearner then MemberPromote events for "+victim, func(ctx context.Context) (bool, string) {
		evs, err := c.Kube.CoreV1().Events(nsEtcdOperator).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		items := evs.Items
		slices.SortFunc(items, func(a, b corev1.Event) int { return compareResourceVersion(a.ResourceVersion, b.ResourceVersion) })
		reasons = reasons[:0]
		for _, e := range items {
			if strings.Contains(e.Message, " "+victim+" ") {
				reasons = append(reasons, e.Reason)
			}
		}
		return slices.Equal(reasons, []string{eventMemberAddAsLearner, eventMemberPromote}), fmt.Sprint(reasons)
	})
	t.Logf("events for %s: %v", victim, reasons)
}

func compareResourceVersion(a, b string) int {
	x, _ := strconv.ParseUint(a, 10, 64)
	y, _ := strconv.ParseUint(b, 10, 64)
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// TestEtcdOperatorRemovesOrphanedLearner holds etcd's single learner slot
// with a learner whose peer URL is no host's (its machine was deleted
// before it started) while a master's member is being replaced as in
// runbook 2.4.2. Before the fix the operator's every attempt to add the
// replacement failed with "too many learner members in cluster" and the
// rollout never finished; cluster-etcd-operator removes the members of
// machines that are gone, so the orphan is removed (event MemberRemove),
// the replacement joins as a learner, is promoted, and the rollout
// completes with three voters.
func TestEtcdOperatorRemovesOrphanedLearner(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, fastOptions())
	ctx := t.Context()
	victim := c.Masters()[2]
	cli := stopAndRemoveMember(t, c, victim)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	orphanPeer := "https://" + l.Addr().String()
	_ = l.Close()
	// Through the survivors only: the removed member may still hold a
	// request it will never answer.
	var eps []string
	for _, n := range c.Masters() {
		if n != victim {
			eps = append(eps, c.Host(n).EtcdClientURL())
		}
	}
	survivors, err := newEtcdClient(eps, c.EtcdTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer survivors.Close()
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	orphan, err := survivors.MemberAddAsLearner(actx, []string{orphanPeer})
	cancel()
	if err != nil {
		t.Fatalf("adding the orphaned learner: %v", err)
	}

	st, err := staticPodStatus(ctx, c, "etcd")
	if err != nil {
		t.Fatal(err)
	}
	forceRedeployment(t, c, "etcd")
	waitAllAtRevision(t, c, "etcd", st.LatestAvailableRevision, 3)
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "3 members are available")

	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list.Members {
		if m.ID == orphan.Member.ID {
			t.Errorf("orphaned learner %x (%s) is still a member", m.ID, orphanPeer)
		}
		if m.IsLearner {
			t.Errorf("member %s is still a learner after the rollout completed", memberDisplayName(m))
		}
		names = append(names, m.Name)
	}
	if len(list.Members) != 3 || !slices.Contains(names, victim) {
		t.Errorf("members after the rollout: %v, want 3 voters including %s", names, victim)
	}
	eventually(t, 20*time.Second, "MemberRemove event for the orphaned learner", func(ctx context.Context) (bool, string) {
		evs, err := c.Kube.CoreV1().Events(nsEtcdOperator).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if e.Reason == eventMemberRemove && strings.Contains(e.Message, fmt.Sprintf("%x", orphan.Member.ID)) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events, none MemberRemove for %x", len(evs.Items), orphan.Member.ID)
	})
}

// stopAndRemoveMember does what runbook 2.4.2 does to victim's member before
// the redeployment: the etcd pod manifest and the data directory are moved
// aside on its host, the member is removed; it waits until the operator
// sees two members and returns a client of the cluster (closed at the end
// of the test).
func stopAndRemoveMember(t *testing.T, c *Cluster, victim string) *clientv3.Client {
	t.Helper()
	ctx := t.Context()
	h := c.Host(victim)
	if err := h.MkdirAll(ctx, "/var/lib/etcd-backup", 0o700); err != nil {
		t.Fatal(err)
	}
	for _, mv := range [][2]string{
		{"/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd-backup/etcd-pod.yaml"},
		{"/var/lib/etcd", "/tmp/etcd"},
	} {
		if err := h.Move(ctx, mv[0], mv[1]); err != nil {
			t.Fatalf("mv %s: %v", mv[0], err)
		}
	}
	cli, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Members {
		if m.Name == victim {
			if _, err := cli.MemberRemove(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "2 members are available")
	return cli
}
