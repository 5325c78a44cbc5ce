package lifecycle_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func ExampleForceRedeploy() {
	ctx := context.Background()
	ops := operatorfake.NewClientset(&operatorv1.Etcd{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}})
	clock := func() time.Time { return time.Date(2020, 4, 20, 17, 44, 29, 123456789, time.UTC) }

	rec, err := lifecycle.ForceRedeploy(ctx, ops, lifecycle.Etcd, lifecycle.ForceRedeployOptions{Now: clock, Logger: discard})
	fmt.Println(rec.Reason, err)

	// 2.4.2 uses its own prefix.
	rec, err = lifecycle.ForceRedeploy(ctx, ops, lifecycle.Etcd, lifecycle.ForceRedeployOptions{Prefix: "single-master-recovery-", Now: clock, Logger: discard})
	fmt.Println(rec.Reason, err)
	// Output:
	// recovery-2020-04-20T17:44:29.123456789Z <nil>
	// single-master-recovery-2020-04-20T17:44:29.123456789Z <nil>
}

// setRollout writes what the operator writes while it rolls revision 7 out.
func setRollout(ctx context.Context, ops *operatorfake.Clientset, latest int32, reason string, current ...int32) {
	e, _ := ops.OperatorV1().Etcds().Get(ctx, "cluster", metav1.GetOptions{})
	e.Status.LatestAvailableRevision = latest
	e.Status.NodeStatuses = nil
	for i, c := range current {
		e.Status.NodeStatuses = append(e.Status.NodeStatuses, operatorv1.NodeStatus{NodeName: fmt.Sprintf("master-%d", i), CurrentRevision: c})
	}
	e.Status.Conditions = []operatorv1.OperatorCondition{{Type: "NodeInstallerProgressing", Status: "True", Reason: reason}}
	ops.OperatorV1().Etcds().UpdateStatus(ctx, e, metav1.UpdateOptions{})
}

func ExampleWaitAllNodesAtLatestRevision() {
	ctx := context.Background()
	ops := operatorfake.NewClientset(&operatorv1.Etcd{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}})
	setRollout(ctx, ops, 6, "AllNodesAtLatestRevision", 6, 6, 6)

	// ForceRedeploy returns the reason and the revision before it: given
	// to the wait, it cannot return on the old, complete state.
	rec, _ := lifecycle.ForceRedeploy(ctx, ops, lifecycle.Etcd, lifecycle.ForceRedeployOptions{Logger: discard})

	// The operator (played here) rolls revision 7 out, one node at a time,
	// once the wait watches. (A real API server replays what changed since
	// the wait's list; the fake has no resource versions, so its operator
	// starts only when the watch is open.)
	operator := func() {
		setRollout(ctx, ops, 7, "NodeInstaller", 6, 6, 6)
		setRollout(ctx, ops, 7, "NodeInstaller", 7, 6, 6)
		setRollout(ctx, ops, 7, "NodeInstaller", 7, 7, 6)
		setRollout(ctx, ops, 7, "AllNodesAtLatestRevision", 7, 7, 7)
	}
	var once sync.Once
	ops.PrependWatchReactor("etcds", func(a clienttesting.Action) (bool, watch.Interface, error) {
		w, err := ops.Tracker().Watch(a.GetResource(), a.GetNamespace(), a.(clienttesting.WatchActionImpl).ListOptions)
		if err == nil {
			once.Do(func() { go operator() })
		}
		return true, w, err
	})
	// Outside a plan, the wait's progress comes through plan.WithReport;
	// inside a plan step it is that step's Progress events.
	ctx = plan.WithReport(ctx, func(e plan.Event) { fmt.Println(e.Message) })
	rev, err := lifecycle.WaitAllNodesAtLatestRevision(ctx, ops, lifecycle.Etcd, lifecycle.WaitOptions{After: rec, Logger: discard})
	fmt.Println("AllNodesAtLatestRevision", rev, err)
	// Output:
	// 3 nodes are at revision 6
	// 3 nodes are at revision 6; 0 nodes have achieved new revision 7
	// 2 nodes are at revision 6; 1 nodes are at revision 7
	// 1 nodes are at revision 6; 2 nodes are at revision 7
	// 3 nodes are at revision 7
	// AllNodesAtLatestRevision 7 <nil>
}
