package lifecycle

import (
	"github.com/lifeboat-dev/lifeboat/plan"

	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// setEtcdStatus writes latest, the nodes' current revisions and the
// NodeInstallerProgressing reason the way the operator does.
func setEtcdStatus(t *testing.T, ctx context.Context, ops *operatorfake.Clientset, latest int32, reason string, current ...int32) {
	t.Helper()
	e, err := ops.OperatorV1().Etcds().Get(ctx, objectName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := &e.Status.StaticPodOperatorStatus
	st.LatestAvailableRevision = latest
	st.NodeStatuses = nil
	for i, c := range current {
		st.NodeStatuses = append(st.NodeStatuses, operatorv1.NodeStatus{NodeName: []string{"master-0", "master-1", "master-2"}[i], CurrentRevision: c})
	}
	st.Conditions = []operatorv1.OperatorCondition{{Type: nodeInstallerProgressing, Status: operatorv1.ConditionTrue, Reason: reason}}
	if reason == allNodesAtLatestRevision {
		st.Conditions[0].Status = operatorv1.ConditionFalse
	}
	if _, err := ops.OperatorV1().Etcds().UpdateStatus(ctx, e, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRevisionSummary(t *testing.T) {
	tests := []struct {
		name   string
		status RevisionStatus
		want   string
		done   bool
	}{
		{"all at latest", RevisionStatus{LatestAvailableRevision: 7, Nodes: nodes(7, 7, 7), Condition: &operatorv1.OperatorCondition{Reason: allNodesAtLatestRevision}}, "3 nodes are at revision 7", true},
		{"rolling", RevisionStatus{LatestAvailableRevision: 7, Nodes: nodes(6, 7, 6), Condition: &operatorv1.OperatorCondition{Reason: "NodeInstaller"}}, "2 nodes are at revision 6; 1 nodes are at revision 7", false},
		{"new revision not started", RevisionStatus{LatestAvailableRevision: 8, Nodes: nodes(7, 7, 7), Condition: &operatorv1.OperatorCondition{Reason: allNodesAtLatestRevision}}, "3 nodes are at revision 7; 0 nodes have achieved new revision 8", false},
		{"condition lags behind nodes", RevisionStatus{LatestAvailableRevision: 7, Nodes: nodes(7, 7, 7), Condition: &operatorv1.OperatorCondition{Reason: "NodeInstaller"}}, "3 nodes are at revision 7", false},
		{"no condition", RevisionStatus{LatestAvailableRevision: 7, Nodes: nodes(7, 7, 7)}, "3 nodes are at revision 7", false},
		{"no nodes", RevisionStatus{Condition: &operatorv1.OperatorCondition{Reason: allNodesAtLatestRevision}}, "no node statuses reported", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.status.Summary(); got != tc.want {
				t.Errorf("Summary() = %q, want %q", got, tc.want)
			}
			if got := tc.status.AllAtLatest(); got != tc.done {
				t.Errorf("AllAtLatest() = %v, want %v", got, tc.done)
			}
		})
	}
}

func nodes(revs ...int32) []NodeRevision {
	var n []NodeRevision
	for i, r := range revs {
		n = append(n, NodeRevision{Node: string(rune('a' + i)), CurrentRevision: r})
	}
	return n
}

// TestWaitCannotReturnOnOldRevision walks a rollout from revision 6 to 7
// step by step and checks that the wait returns only on the last step.
func TestWaitCannotReturnOnOldRevision(t *testing.T) {
	ctx := t.Context()
	ops := operatorfake.NewClientset(operatorObjects()...)
	setEtcdStatus(t, ctx, ops, 6, allNodesAtLatestRevision, 6, 6, 6)

	progress := make(chan string, 100)
	type result struct {
		rev int32
		err error
	}
	done := make(chan result, 1)
	go func() {
		// The fake clientset drops events written between its list and
		// its watch (it has no resource versions); a short Resync relists
		// so a step made in that gap is still seen, as on a real server.
		rctx := plan.WithReport(ctx, func(e plan.Event) { progress <- e.Message })
		rev, err := WaitAllNodesAtLatestRevision(rctx, ops, Etcd, WaitOptions{After: RedeployRecord{AfterRevision: 6}, Resync: 200 * time.Millisecond})
		done <- result{rev, err}
	}()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-progress:
			if got != want {
				t.Fatalf("progress %q, want %q", got, want)
			}
		case r := <-done:
			t.Fatalf("wait returned early (%d, %v) before %q", r.rev, r.err, want)
		case <-time.After(5 * time.Second):
			t.Fatalf("no progress %q", want)
		}
	}
	expect("3 nodes are at revision 6") // the old, complete state: must not return
	setEtcdStatus(t, ctx, ops, 7, "NodeInstaller", 6, 6, 6)
	expect("3 nodes are at revision 6; 0 nodes have achieved new revision 7")
	setEtcdStatus(t, ctx, ops, 7, "NodeInstaller", 7, 6, 6)
	expect("2 nodes are at revision 6; 1 nodes are at revision 7")
	setEtcdStatus(t, ctx, ops, 7, "NodeInstaller", 7, 7, 7)
	expect("3 nodes are at revision 7") // nodes done, condition not yet
	select {
	case r := <-done:
		t.Fatalf("returned (%d, %v) before the condition said %s", r.rev, r.err, allNodesAtLatestRevision)
	case <-time.After(100 * time.Millisecond):
	}
	setEtcdStatus(t, ctx, ops, 7, allNodesAtLatestRevision, 7, 7, 7)
	select {
	case r := <-done:
		if r.err != nil || r.rev != 7 {
			t.Fatalf("wait = (%d, %v), want (7, nil)", r.rev, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return after the rollout finished")
	}
}

func TestWaitReturnsOnCurrentStateWithoutAfterRevision(t *testing.T) {
	ctx := t.Context()
	ops := operatorfake.NewClientset(operatorObjects()...)
	setEtcdStatus(t, ctx, ops, 3, allNodesAtLatestRevision, 3, 3, 3)
	rev, err := WaitAllNodesAtLatestRevision(ctx, ops, Etcd, WaitOptions{})
	if err != nil || rev != 3 {
		t.Fatalf("wait = (%d, %v), want (3, nil)", rev, err)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	ops := operatorfake.NewClientset(operatorObjects()...)
	setEtcdStatus(t, t.Context(), ops, 7, "NodeInstaller", 7, 6, 6)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := WaitAllNodesAtLatestRevision(ctx, ops, Etcd, WaitOptions{})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrRolloutNotFinished) {
		t.Fatalf("err = %v, want DeadlineExceeded and ErrRolloutNotFinished", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("returned %v after the deadline", d)
	}
	t.Log(err)
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
