package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestEtcdRevWritesRevisionJSON: on a 4.20.3 cluster every master's
// /var/lib/etcd/revision.json is kept by the etcd-rev container in the
// real shape: a raftIndex per endpoint, maxRaftIndex their maximum, the
// cluster ID and the creation time; it grows as the cluster writes.
func TestEtcdRevWritesRevisionJSON(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, Options{Masters: 3, Interval: 50 * time.Millisecond, Release: "4.20.3"})
	read := func(n string) (map[string]any, revisionJSON, error) {
		b, err := os.ReadFile(c.Host(n).path(revisionJSONPath))
		if err != nil {
			return nil, revisionJSON{}, err
		}
		var raw map[string]any
		var rj revisionJSON
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, rj, err
		}
		err = json.Unmarshal(b, &rj)
		return raw, rj, err
	}
	first := map[string]uint64{}
	for _, n := range c.Masters() {
		eventually(t, 60*time.Second, "revision.json on "+n, func(ctx context.Context) (bool, string) {
			raw, rj, err := read(n)
			if err != nil {
				return false, err.Error()
			}
			for _, k := range []string{"clusterId", "raftIndex", "maxRaftIndex", "created"} {
				if _, ok := raw[k]; !ok {
					return false, fmt.Sprintf("no %s in %v", k, raw)
				}
			}
			var m uint64
			for ep, v := range rj.RaftIndex {
				if !strings.HasPrefix(ep, "https://") {
					return false, "endpoint " + ep
				}
				m = max(m, v)
			}
			first[n] = rj.MaxRaftIndex
			return len(rj.RaftIndex) == 3 && rj.MaxRaftIndex == m && m > 0 && strings.HasSuffix(rj.Created, "UTC"),
				fmt.Sprintf("%+v", rj)
		})
	}
	// Writes move the raft index; the file follows.
	for i := range 20 {
		if _, err := c.Kube.CoreV1().Namespaces().List(t.Context(), metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		cli, err := c.EtcdClient(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(ctx, fmt.Sprintf("/lifeboat-test/%d", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	n := c.Masters()[0]
	eventually(t, 60*time.Second, "revision.json follows the raft index on "+n, func(ctx context.Context) (bool, string) {
		_, rj, err := read(n)
		if err != nil {
			return false, err.Error()
		}
		return rj.MaxRaftIndex >= first[n]+20, fmt.Sprintf("maxRaftIndex %d, first %d", rj.MaxRaftIndex, first[n])
	})
}

// TestQuorumGuardHoldsRevision: on a 4.20.3 cluster with a member removed
// (two healthy voters, three masters) the simulated operator makes no new
// etcd revision, forced or not, and says why in RevisionControllerDegraded
// (the ClusterOperator etcd goes Degraded); the override lets the rollout
// through and the member comes back; removing the override clears the
// condition.
func TestQuorumGuardHoldsRevision(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, Options{Masters: 3, Interval: 50 * time.Millisecond, Release: "4.20.3"})
	ctx := t.Context()
	victim := c.Masters()[2]
	st, err := staticPodStatus(ctx, c, "etcd")
	if err != nil {
		t.Fatal(err)
	}
	before := st.LatestAvailableRevision
	stopAndRemoveMember(t, c, victim)
	// No forced redeployment: on 4.18+ the missing member alone asks for
	// a new revision, which the guard holds.
	eventually(t, 60*time.Second, "RevisionControllerDegraded by the quorum guard", func(ctx context.Context) (bool, string) {
		cond, _, err := etcdCondition(ctx, c, condRevisionControllerDegraded)
		if err != nil || cond == nil {
			return false, fmt.Sprint("no condition ", err)
		}
		return cond.Status == operatorv1.ConditionTrue && strings.Contains(cond.Message, "found 2 healthy member(s) out of the 3"), cond.Message
	})
	eventually(t, 30*time.Second, "ClusterOperator etcd Degraded", func(ctx context.Context) (bool, string) {
		co, err := c.Config.ConfigV1().ClusterOperators().Get(ctx, "etcd", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cd := range co.Status.Conditions {
			if cd.Type == "Degraded" {
				return cd.Status == "True" && strings.Contains(cd.Message, "CheckSafeToScaleCluster"), string(cd.Status) + " " + cd.Message
			}
		}
		return false, "no Degraded"
	})
	// A forced redeployment is held the same way.
	forceRedeployment(t, c, "etcd")
	// Held: several controller passes later, still no new revision.
	time.Sleep(2 * time.Second)
	if st, err := staticPodStatus(ctx, c, "etcd"); err != nil || st.LatestAvailableRevision != before {
		t.Fatalf("latest revision %d (err %v), want %d: the guard let a revision through", st.LatestAvailableRevision, err, before)
	}

	setOverrides(t, c, `{"useUnsupportedUnsafeNonHANonProductionUnstableEtcd":true,"other":"kept"}`)
	waitAllAtRevision(t, c, "etcd", before, 3)
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "3 members are available")

	setOverrides(t, c, `{"other":"kept"}`)
	forceRedeployment(t, c, "etcd")
	st, _ = staticPodStatus(ctx, c, "etcd")
	waitAllAtRevision(t, c, "etcd", st.LatestAvailableRevision, 3)
	eventually(t, 30*time.Second, "RevisionControllerDegraded False", func(ctx context.Context) (bool, string) {
		cond, _, err := etcdCondition(ctx, c, condRevisionControllerDegraded)
		if err != nil || cond == nil {
			return false, fmt.Sprint("no condition ", err)
		}
		return cond.Status == operatorv1.ConditionFalse, cond.Message
	})
}

func setOverrides(t *testing.T, c *Cluster, raw string) {
	t.Helper()
	// Replace the whole field (a merge patch would merge the objects).
	e, err := c.Operator.OperatorV1().Etcds().Get(t.Context(), "cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Spec.UnsupportedConfigOverrides.Raw = []byte(raw)
	if _, err := c.Operator.OperatorV1().Etcds().Update(t.Context(), e, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
