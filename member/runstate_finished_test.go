package member

import (
	"context"
	"strconv"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// finishingPlan is a replacement plan of m0 whose steps count their runs;
// identify records oldID as the member replaced and verify the member
// named m0 as the one in its place, as the real steps do.
func finishingPlan(t *testing.T, deps Deps, f *etcdtest.Cluster, procedure string, oldID uint64, runs map[string]int) *plan.Plan {
	t.Helper()
	r, err := newReplacement(deps, ReplaceOptions{Node: "m0", SkipBackupCheck: true, Logger: quiet}, procedure)
	if err != nil {
		t.Fatal(err)
	}
	var steps []plan.Step
	for _, id := range []string{"identify", "remove-member", "quorum-guard-off", "verify"} {
		steps = append(steps, plan.Step{ID: id, Run: func(ctx context.Context, progress func(string)) error {
			runs[id]++
			switch id {
			case "identify":
				r.memberID = oldID
			case "verify":
				r.newMemberID = f.Member("m0").ID
			}
			return nil
		}})
	}
	return r.track(&plan.Plan{Name: "test " + procedure, Steps: steps})
}

// A replacement run again after it finished (killed after its last step's
// done event: the state is already retired) reports it done when the
// cluster still shows its end state, and starts a run of its own when it
// does not: the old member is back, the new one is unhealthy, the record
// predates NewMemberID, or the finished run was another replacement.
func TestReplaceRunAgainAfterFinish(t *testing.T) {
	const oldID = 0xabc
	tests := []struct {
		name string
		// change runs between the finished run and the next.
		change    func(t *testing.T, deps Deps, f *etcdtest.Cluster)
		procedure string // of the next run; "2.4.2" when empty
		wantDone  bool
	}{
		{name: "end state holds", wantDone: true},
		{name: "new member unhealthy again", change: func(t *testing.T, deps Deps, f *etcdtest.Cluster) { f.Down("m0") }},
		{name: "new member now a learner", change: func(t *testing.T, deps Deps, f *etcdtest.Cluster) { f.SetLearner("m0", true) }},
		{name: "replaced member listed", change: func(t *testing.T, deps Deps, f *etcdtest.Cluster) {
			m := *f.Member("m1")
			m.ID, m.Name = oldID, "m0-old"
			f.Add(&m)
		}},
		{name: "record without new member", change: func(t *testing.T, deps Deps, f *etcdtest.Cluster) {
			for name, d := range stateCMs(t, deps) {
				d.NewMemberID = ""
				cm, err := stateConfigMap(etcdNamespace, name, retiredFinished, d)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := deps.Kube.CoreV1().ConfigMaps(etcdNamespace).Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "another procedure", procedure: "2.4.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := etcdtest.NewCluster("m0", "m1", "m2")
			deps := planDeps(f)
			runs := map[string]int{}
			if err := finishingPlan(t, deps, f, "2.4.2", oldID, runs).Run(t.Context(), plan.RunOptions{}); err != nil {
				t.Fatal(err)
			}
			before := stateCMs(t, deps)
			if len(before) != 1 {
				t.Fatalf("after the first run: %v", before)
			}
			for _, d := range before {
				if d.NewMemberID != strconv.FormatUint(f.Member("m0").ID, 16) || d.MemberID != "abc" {
					t.Fatalf("finished state records %q in place of %q", d.NewMemberID, d.MemberID)
				}
			}
			if tc.change != nil {
				tc.change(t, deps, f)
			}
			proc := tc.procedure
			if proc == "" {
				proc = "2.4.2"
			}
			runs = map[string]int{}
			var skipped []string
			err := finishingPlan(t, deps, f, proc, oldID, runs).Run(t.Context(), plan.RunOptions{Report: func(e plan.Event) {
				if e.Status == plan.Skipped && strings.Contains(e.Message, "already finished") {
					skipped = append(skipped, e.Step.ID)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			after := stateCMs(t, deps)
			if tc.wantDone {
				if len(runs) != 0 || len(skipped) != 4 {
					t.Fatalf("steps ran %v, skipped as finished %v; want none run, all skipped", runs, skipped)
				}
				if len(after) != 1 {
					t.Fatalf("states after reporting done: %v; want only the first run's", after)
				}
				return
			}
			if runs["identify"] != 1 || len(skipped) != 0 {
				t.Fatalf("steps ran %v, skipped as finished %v; want a run of its own", runs, skipped)
			}
			if len(after) != 2 {
				t.Fatalf("states: %v; want both runs retired as finished", after)
			}
		})
	}
}
