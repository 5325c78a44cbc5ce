package lifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// TestRedeployThenWaitOnClustertest: ForceRedeploy's record, given to the
// wait, makes it return only a revision made after the reason was set,
// even called the instant the patch returned, while the operator object
// still says every node is at the latest (old) revision. The simulated
// operators tick slowly here, so that state lasts: a wait ignoring the
// record returns the old revision.
func TestRedeployThenWaitOnClustertest(t *testing.T) {
	t.Parallel() // its own cluster
	c := clustertest.Start(t, clustertest.Options{Workers: -1, Interval: 500 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	for _, target := range []Operator{KubeScheduler, Etcd} {
		t.Run(string(target), func(t *testing.T) {
			// Idle first: the wait with no record returns at once.
			idle, err := WaitAllNodesAtLatestRevision(ctx, c.Operator, target, WaitOptions{Logger: quietLogger})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ForceRedeploy(ctx, c.Operator, target, ForceRedeployOptions{Logger: quietLogger})
			if err != nil {
				t.Fatal(err)
			}
			if rec.AfterRevision != idle {
				t.Fatalf("record %+v, the revision before the patch was %d", rec, idle)
			}
			rev, err := WaitAllNodesAtLatestRevision(ctx, c.Operator, target, WaitOptions{After: rec, Logger: quietLogger})
			if err != nil {
				t.Fatal(err)
			}
			now, err := Revisions(ctx, c.Operator, target)
			if err != nil {
				t.Fatal(err)
			}
			if rev <= rec.AfterRevision || now.ForceRedeploymentReason != rec.Reason || now.LatestAvailableRevision < rev {
				t.Fatalf("the wait returned revision %d after a redeployment from %d (now %d, reason %q, want %q)",
					rev, rec.AfterRevision, now.LatestAvailableRevision, now.ForceRedeploymentReason, rec.Reason)
			}
		})
	}
}
