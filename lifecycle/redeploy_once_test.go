package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"
)

// etcdAt is the etcd operator object at revision rev on three nodes,
// carrying reason.
func etcdAt(rev int32, reason string) *operatorv1.Etcd {
	o := &operatorv1.Etcd{ObjectMeta: metav1.ObjectMeta{Name: objectName}}
	o.Spec.ForceRedeploymentReason = reason
	st := &o.Status.StaticPodOperatorStatus
	st.LatestAvailableRevision = rev
	for _, n := range []string{"master-0", "master-1", "master-2"} {
		st.NodeStatuses = append(st.NodeStatuses, operatorv1.NodeStatus{NodeName: n, CurrentRevision: rev})
	}
	st.Conditions = []operatorv1.OperatorCondition{{Type: nodeInstallerProgressing, Status: operatorv1.ConditionFalse, Reason: allNodesAtLatestRevision}}
	return o
}

func reasonPatches(ops *operatorfake.Clientset) int {
	n := 0
	for _, a := range ops.Actions() {
		if p, ok := a.(clienttesting.PatchAction); ok && strings.Contains(string(p.GetPatch()), "forceRedeploymentReason") {
			n++
		}
	}
	return n
}

// TestForceRedeployOnce covers the crash points of a forced redeployment:
// the reason is recorded before the patch, and a resumed call patches only
// when the recorded reason did not land.
func TestForceRedeployOnce(t *testing.T) {
	now := time.Date(2026, 11, 24, 18, 9, 0, 0, time.UTC)
	const fresh = "recovery-2026-11-24T18:09:00Z"
	cases := []struct {
		name        string
		obj         *operatorv1.Etcd
		prior       *RedeployRecord
		wantRec     RedeployRecord
		wantPatched bool
	}{
		{"first run records then patches", etcdAt(6, "old"), nil, RedeployRecord{fresh, 6}, true},
		{"first run on an object with no reason yet", etcdAt(3, ""), nil, RedeployRecord{fresh, 3}, true},
		{"resumed after the patch: nothing patched, recorded revision kept", etcdAt(7, "recovery-before-crash"),
			&RedeployRecord{"recovery-before-crash", 6}, RedeployRecord{"recovery-before-crash", 6}, false},
		{"resumed between record and patch: recorded reason patched", etcdAt(6, "old"),
			&RedeployRecord{"recovery-before-crash", 6}, RedeployRecord{"recovery-before-crash", 6}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ops := operatorfake.NewClientset(tc.obj)
			store := &memStore{}
			if tc.prior != nil {
				store.SaveRedeploy(t.Context(), Etcd, *tc.prior)
			}
			// At the patch, the store must already hold its reason.
			ops.PrependReactor("patch", "etcds", func(a clienttesting.Action) (bool, runtime.Object, error) {
				p := string(a.(clienttesting.PatchAction).GetPatch())
				if rec := store.recs[Etcd]; !strings.Contains(p, rec.Reason) || rec.Reason == "" {
					t.Errorf("patch %s made before its reason was recorded (store %+v)", p, store.recs)
				}
				return false, nil, nil
			})
			rec, patched, err := ForceRedeployOnce(t.Context(), ops, Etcd, store, ForceRedeployOptions{Now: fixedClock(now), Logger: quietLogger})
			if err != nil {
				t.Fatal(err)
			}
			if rec != tc.wantRec || patched != tc.wantPatched {
				t.Fatalf("got %+v patched %v, want %+v patched %v", rec, patched, tc.wantRec, tc.wantPatched)
			}
			want := 0
			if tc.wantPatched {
				want = 1
			}
			if n := reasonPatches(ops); n != want {
				t.Fatalf("%d patches of forceRedeploymentReason, want %d", n, want)
			}
			if cur := currentReason(t, t.Context(), ops, Etcd); cur != tc.wantRec.Reason {
				t.Fatalf("object carries %q, want %q", cur, tc.wantRec.Reason)
			}
			// A second call (another resume) never patches again.
			if _, patched, err := ForceRedeployOnce(t.Context(), ops, Etcd, store, ForceRedeployOptions{Now: fixedClock(now), Logger: quietLogger}); err != nil || patched {
				t.Fatalf("second call: patched %v, err %v", patched, err)
			}
		})
	}
}

// TestAnnotationRedeployStore keeps a record in the operator object and
// removes it.
func TestAnnotationRedeployStore(t *testing.T) {
	ops := operatorfake.NewClientset(etcdAt(6, "old"))
	for _, key := range []string{"replace-master-1", strings.Repeat("x", 80) + "/not a name"} {
		s := NewAnnotationRedeployStore(ops, key)
		if _, ok, err := s.LoadRedeploy(t.Context(), Etcd); ok || err != nil {
			t.Fatalf("%s: empty store: ok %v err %v", key, ok, err)
		}
		want := RedeployRecord{Reason: "recovery-x", AfterRevision: 6}
		if err := s.SaveRedeploy(t.Context(), Etcd, want); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.LoadRedeploy(t.Context(), Etcd); !ok || err != nil || got != want {
			t.Fatalf("%s: loaded %+v ok %v err %v, want %+v", key, got, ok, err, want)
		}
		if err := s.SaveRedeploy(t.Context(), Etcd, RedeployRecord{}); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.LoadRedeploy(t.Context(), Etcd); ok {
			t.Fatalf("%s: record not removed", key)
		}
	}
}

// TestWaitReportsStalledRedeployment: an operator that never acts on a
// forced redeployment ends the wait with a typed error naming the reason,
// long before ctx's deadline.
func TestWaitReportsStalledRedeployment(t *testing.T) {
	ops := operatorfake.NewClientset(etcdAt(6, "old"))
	reason, err := ForceRedeploy(t.Context(), ops, Etcd, ForceRedeployOptions{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute) // catches a hang only
	defer cancel()
	_, err = WaitAllNodesAtLatestRevision(ctx, ops, Etcd, WaitOptions{
		After: RedeployRecord{AfterRevision: 6, Reason: reason.Reason}, StallTimeout: 2 * time.Second, Resync: 200 * time.Millisecond, Logger: quietLogger,
	})
	var se *RolloutStalledError
	if !errors.As(err, &se) || !errors.Is(err, ErrRolloutStalled) {
		t.Fatalf("err = %v, want a *RolloutStalledError", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the wait ran into its deadline: %v", err)
	}
	if se.Reason != reason.Reason || se.AfterRevision != 6 || se.Status == nil || se.Status.LatestAvailableRevision != 6 || !strings.Contains(err.Error(), reason.Reason) {
		t.Fatalf("stalled error %+v (%v)", se, err)
	}
}

// TestWaitSurvivesLostWatchEvent reproduces TestPlanCancelledThenResumed's
// failure deterministically: the operator's status update that completes
// the rollout lands between the wait's list and its watch, and the fake
// clientset's watch (like any watch that drops an event) never delivers
// it. The wait must still see it by listing again.
func TestWaitSurvivesLostWatchEvent(t *testing.T) {
	ops := operatorfake.NewClientset(etcdAt(6, "recovery-new"))
	gvr := schema.GroupVersionResource{Group: "operator.openshift.io", Version: "v1", Resource: "etcds"}
	first := true
	ops.PrependWatchReactor("etcds", func(a clienttesting.Action) (bool, watch.Interface, error) {
		if first {
			first = false
			// The operator acts after the list and before the watch.
			if err := ops.Tracker().Update(gvr, etcdAt(7, "recovery-new"), ""); err != nil {
				t.Error(err)
			}
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // catches a hang only
	defer cancel()
	rev, err := WaitAllNodesAtLatestRevision(ctx, ops, Etcd, WaitOptions{After: RedeployRecord{AfterRevision: 6, Reason: "recovery-new"}, Resync: 200 * time.Millisecond, Logger: quietLogger})
	if err != nil || rev != 7 {
		t.Fatalf("rev %d, err %v; want revision 7", rev, err)
	}
}
