package member

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// startEtcdWithLearner starts voters real members, adds a started learner
// named learner, and returns a client over every endpoint, the learner's
// included, as a client built from the etcd pods would be.
func startEtcdWithLearner(t *testing.T, voters int, learner string) (*clustertest.EtcdCluster, *clientv3.Client) {
	t.Helper()
	ec := clustertest.StartEtcd(t, clustertest.EtcdOptions{Members: voters})
	if _, err := ec.AddLearner(t.Context(), learner); err != nil {
		t.Fatalf("adding learner %s: %v", learner, err)
	}
	cli, err := ec.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return ec, cli
}

// TestLearnerHealthAndRemoval: one voter and a started learner. The healthy
// learner is not named by FindUnhealthyMember and RemoveMember refuses it
// unless forced; once stopped it is named, as a learner, and removed.
func TestLearnerHealthAndRemoval(t *testing.T) {
	ec, cli := startEtcdWithLearner(t, 1, "master-1")
	ctx := t.Context()
	findOpts := FindOptions{HealthTimeout: 3 * time.Second, Logger: quiet}
	removeOpts := RemoveOptions{HealthTimeout: 3 * time.Second, Logger: quiet}
	deps := Deps{Etcd: cli}

	// A healthy learner is not the member to replace.
	f, err := FindUnhealthyMember(ctx, deps, findOpts)
	if !errors.Is(err, ErrNoUnhealthyMember) {
		t.Fatalf("FindUnhealthyMember with a healthy learner: finding %+v, err %v; want ErrNoUnhealthyMember", f, err)
	}

	learner, err := lookup(ctx, cli, "master-1")
	if err != nil {
		t.Fatal(err)
	}
	if !learner.IsLearner {
		t.Fatalf("master-1 is not a learner: %+v", learner)
	}
	// A healthy learner is refused without Force.
	res, err := RemoveMember(ctx, cli, learner.ID, removeOpts)
	if !errors.Is(err, ErrMemberHealthy) {
		t.Fatalf("removing a healthy learner: err = %v, want ErrMemberHealthy", err)
	}
	for _, h := range res.Health {
		if !h.Healthy {
			t.Errorf("member %s reported unhealthy: %v", h.DisplayName(), h.Err)
		}
	}

	// A stopped learner is the unhealthy member, named as a learner.
	if err := ec.Member("master-1").Stop(); err != nil {
		t.Fatal(err)
	}
	f, err = FindUnhealthyMember(ctx, deps, findOpts)
	if err != nil {
		t.Fatalf("FindUnhealthyMember with a stopped learner: %v", err)
	}
	if f.Member.Name != "master-1" || !f.Member.IsLearner || len(f.OtherUnhealthy) != 0 {
		t.Fatalf("finding names %s (learner %v), others %v; want the learner master-1", f.Member.DisplayName(), f.Member.IsLearner, f.OtherUnhealthy)
	}
	if ev := strings.Join(f.Evidence, "\n"); !strings.Contains(ev, "learner") {
		t.Errorf("evidence does not say the member is a learner:\n%s", ev)
	}
	if !strings.Contains(f.Member.Health(), "learner") {
		t.Errorf("Health() = %q, want it to say learner", f.Member.Health())
	}
	// Removing an unhealthy learner never loses quorum.
	res, err = RemoveMember(ctx, cli, learner.ID, removeOpts)
	if err != nil || res.Removed == nil || len(res.After) != 1 {
		t.Fatalf("removing the stopped learner: %+v, %v", res, err)
	}

	// Force removes a healthy learner.
	if _, err := ec.AddLearner(ctx, "master-2"); err != nil {
		t.Fatal(err)
	}
	l2, err := lookup(ctx, cli, "master-2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RemoveMember(ctx, cli, l2.ID, removeOpts); !errors.Is(err, ErrMemberHealthy) {
		t.Fatalf("removing healthy learner master-2: err = %v, want ErrMemberHealthy", err)
	}
	forced := removeOpts
	forced.Force = true
	res, err = RemoveMember(ctx, cli, l2.ID, forced)
	if err != nil || res.Removed == nil || res.Removed.Name != "master-2" {
		t.Fatalf("forced removal of the healthy learner: %+v, %v", res, err)
	}
	t.Logf("after:\n%s", MemberTable(res.After))
}

// TestLearnerQuorumCountsVoters: three voters and a healthy learner. With
// one voter killed, FindUnhealthyMember names that voter (not the learner)
// and RemoveMember removes it (two of the two remaining voters are
// healthy). With a second voter killed, quorum over the two voters is lost
// although the learner still answers its serializable health check.
func TestLearnerQuorumCountsVoters(t *testing.T) {
	ec, cli := startEtcdWithLearner(t, 3, "master-3")
	ctx := t.Context()
	findOpts := FindOptions{HealthTimeout: 3 * time.Second, Logger: quiet}
	deps := Deps{Etcd: cli}
	if err := ec.Member("master-2").Kill(); err != nil {
		t.Fatal(err)
	}
	f, err := FindUnhealthyMember(ctx, deps, findOpts)
	if err != nil {
		t.Fatal(err)
	}
	if f.Member.Name != "master-2" || len(f.OtherUnhealthy) != 0 {
		t.Fatalf("finding names %s, others %v; want only master-2", f.Member.DisplayName(), f.OtherUnhealthy)
	}
	res, err := RemoveMember(ctx, cli, f.Member.ID, RemoveOptions{HealthTimeout: 3 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatalf("removing dead voter master-2 with a learner present: %v", err)
	}
	if len(res.After) != 3 {
		t.Fatalf("after removal:\n%s", MemberTable(res.After))
	}

	if err := ec.Member("master-1").Kill(); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = FindUnhealthyMember(cctx, deps, findOpts)
	var ql *QuorumLostError
	if !errors.As(err, &ql) {
		t.Fatalf("err = %v, want a QuorumLostError", err)
	}
	// Without quorum the surviving voter cannot serve a linearizable read
	// either: 0 of 2. Counting the learner would make it 1 of 3.
	if ql.Voting != 2 || ql.Healthy != 0 || slices.Contains(ql.Unhealthy, "master-3") {
		t.Fatalf("quorum lost with %d of %d voting members healthy (unhealthy %v), want 0 of 2 without the learner", ql.Healthy, ql.Voting, ql.Unhealthy)
	}
	t.Log(err)
}
