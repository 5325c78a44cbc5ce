package member

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// trackedPlan is a replacement plan for node whose steps only count their
// runs; crashAt makes that step fail (the process dying there).
func trackedPlan(t *testing.T, deps Deps, node, procedure string, abandon bool, runs map[string]int, crashAt string) *plan.Plan {
	t.Helper()
	r, err := newReplacement(deps, ReplaceOptions{Node: node, SkipBackupCheck: true, Logger: quiet, AbandonUnfinished: abandon}, procedure)
	if err != nil {
		t.Fatal(err)
	}
	var steps []plan.Step
	for _, id := range []string{"identify", "check-backup", "stop-etcd", "remove-member", "verify"} {
		steps = append(steps, plan.Step{ID: id, Run: func(ctx context.Context, progress func(string)) error {
			runs[node+"/"+id]++
			if id == "identify" {
				r.memberID = 0xabc
			}
			if id == crashAt {
				return errors.New("killed")
			}
			return nil
		}})
	}
	return r.track(&plan.Plan{Name: "test " + procedure + " " + node, Steps: steps})
}

func stateCMs(t *testing.T, deps Deps) map[string]replaceRunState {
	t.Helper()
	l, err := deps.Kube.CoreV1().ConfigMaps(etcdNamespace).List(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]replaceRunState{}
	for i := range l.Items {
		d, err := decodeState(&l.Items[i])
		if err != nil {
			t.Fatal(err)
		}
		out[l.Items[i].Name] = d
	}
	return out
}

// A run resumed after a crash skips the steps the state records as
// finished, restores what they learned, and retires the state once the
// last step finished.
func TestReplaceRunStateResumesAndRetires(t *testing.T) {
	deps := planDeps(etcdtest.NewCluster("m0", "m1", "m2"))
	runs := map[string]int{}
	err := trackedPlan(t, deps, "m0", "2.4.2", false, runs, "remove-member").Run(t.Context(), plan.RunOptions{})
	if err == nil {
		t.Fatal("the crashed run succeeded")
	}
	live := stateCMs(t, deps)[defaultStateConfigMap]
	if len(live.Finished) != 3 || live.MemberID != "abc" || live.Identity != (ReplaceIdentity{"2.4.2", "m0"}) {
		t.Fatalf("live state after the crash: %+v", live)
	}
	var skipped []string
	err = trackedPlan(t, deps, "m0", "2.4.2", false, runs, "").Run(t.Context(), plan.RunOptions{Report: func(e plan.Event) {
		if e.Status == plan.Skipped {
			skipped = append(skipped, e.Step.ID)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(skipped, ","); got != "identify,check-backup,stop-etcd" {
		t.Fatalf("skipped %s", got)
	}
	for _, id := range []string{"identify", "check-backup", "stop-etcd"} {
		if runs["m0/"+id] != 1 {
			t.Errorf("%s ran %d times, want once", id, runs["m0/"+id])
		}
	}
	cms := stateCMs(t, deps)
	if _, ok := cms[defaultStateConfigMap]; ok || len(cms) != 1 {
		t.Fatalf("state not retired: %v", cms)
	}
	for name, d := range cms {
		if !strings.HasPrefix(name, defaultStateConfigMap+".finished-") || !d.Done() || d.RetiredTo != name {
			t.Fatalf("retired state %s: %+v", name, d)
		}
	}
	// The next run starts fresh.
	if err := trackedPlan(t, deps, "m0", "2.4.2", false, runs, "").Run(t.Context(), plan.RunOptions{}); err != nil || runs["m0/identify"] != 2 {
		t.Fatalf("fresh run: err %v, identify ran %d times", err, runs["m0/identify"])
	}
}

// Killed after the last step was recorded but before the state was
// retired: the resumed run runs nothing and only retires the state.
func TestReplaceRunStateCrashBeforeRetire(t *testing.T) {
	deps := planDeps(etcdtest.NewCluster("m0", "m1", "m2"))
	st := &stateStore{kube: deps.Kube, namespace: etcdNamespace, name: defaultStateConfigMap}
	fin := map[string]time.Time{}
	steps := []string{"identify", "check-backup", "stop-etcd", "remove-member", "verify"}
	for _, id := range steps {
		fin[id] = time.Now()
	}
	if err := st.save(t.Context(), replaceRunState{Identity: ReplaceIdentity{"2.4.2", "m0"}, Steps: steps, Finished: fin}); err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	if err := trackedPlan(t, deps, "m0", "2.4.2", false, runs, "").Run(t.Context(), plan.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 0 {
		t.Fatalf("steps ran again: %v", runs)
	}
	if _, ok := stateCMs(t, deps)[defaultStateConfigMap]; ok {
		t.Fatal("state not retired")
	}
}

// Another replacement's unfinished state is refused with a typed error
// and left untouched, unless AbandonUnfinished retires it; one with
// nothing changed is retired without asking.
func TestReplaceRunStateAnotherRun(t *testing.T) {
	tests := []struct {
		name            string
		crashAt         string // the first run (m0, 2.4.2) dies here
		node, procedure string
		abandon         bool
		wantRefused     bool
		wantRetiredAs   string
	}{
		{"other node, unfinished", "remove-member", "m1", "2.4.2", false, true, ""},
		{"other procedure, unfinished", "remove-member", "m0", "2.4.1", false, true, ""},
		{"other node, abandoned", "remove-member", "m1", "2.4.2", true, false, ".abandoned-"},
		{"other node, nothing changed", "stop-etcd", "m1", "2.4.2", false, false, ".abandoned-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deps := planDeps(etcdtest.NewCluster("m0", "m1", "m2"))
			runs := map[string]int{}
			if err := trackedPlan(t, deps, "m0", "2.4.2", false, runs, tc.crashAt).Run(t.Context(), plan.RunOptions{}); err == nil {
				t.Fatal("the crashed run succeeded")
			}
			before := stateCMs(t, deps)[defaultStateConfigMap]
			err := trackedPlan(t, deps, tc.node, tc.procedure, tc.abandon, runs, "").Run(t.Context(), plan.RunOptions{})
			var are *AnotherRunError
			if tc.wantRefused {
				if !errors.Is(err, ErrAnotherRunUnfinished) || !errors.As(err, &are) || are.Unfinished.Node != "m0" || len(are.Differences) == 0 {
					t.Fatalf("err = %v, want *AnotherRunError", err)
				}
				if runs[tc.node+"/identify"] != 0 && tc.node != "m0" {
					t.Fatal("a step of the refused run ran")
				}
				if after := stateCMs(t, deps)[defaultStateConfigMap]; len(after.Finished) != len(before.Finished) || after.Identity != before.Identity {
					t.Fatalf("old state changed: %+v", after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cms := stateCMs(t, deps)
			found := 0
			for name, d := range cms {
				if strings.Contains(name, tc.wantRetiredAs) && d.Identity.Node == "m0" {
					found++
				}
			}
			if found != 1 {
				t.Fatalf("want the old state retired as %s: %v", tc.wantRetiredAs, cms)
			}
		})
	}
}

// An abandoned run that crashed with the quorum guard off (its state
// records the guard as it found it) has the guard put back before its
// state is retired.
func TestReplaceRunStateAbandonRestoresGuard(t *testing.T) {
	deps := planDeps(etcdtest.NewCluster("m0", "m1", "m2"))
	ctx := t.Context()
	r, err := newReplacement(deps, ReplaceOptions{Node: "m0", SkipBackupCheck: true, Logger: quiet}, "2.4.1")
	if err != nil {
		t.Fatal(err)
	}
	before := lifecycle.QuorumGuard{} // no override
	if err := r.store.save(ctx, replaceRunState{Identity: ReplaceIdentity{"2.4.1", "m0"}, Steps: []string{"identify", "quorum-guard-off", "verify"},
		Started: time.Now(), Finished: map[string]time.Time{"identify": time.Now(), "quorum-guard-off": time.Now()}, QuorumGuard: &before}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lifecycle.DisableQuorumGuard(ctx, deps.Operator, lifecycle.QuorumGuardOptions{}); err != nil {
		t.Fatal(err)
	}
	runs := map[string]int{}
	if err := trackedPlan(t, deps, "m1", "2.4.2", true, runs, "").Run(ctx, plan.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if g, err := lifecycle.ReadQuorumGuard(ctx, deps.Operator); err != nil || g.Set {
		t.Errorf("guard after abandoning = %v, %v; want no override", g, err)
	}
}
