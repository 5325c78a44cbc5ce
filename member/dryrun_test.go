package member

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// writes lists the actions of the fake clients of deps that are not reads.
func writes(deps Deps) []string {
	var out []string
	var actions []clienttesting.Action
	actions = append(actions, deps.Kube.(*kubefake.Clientset).Actions()...)
	actions = append(actions, deps.Operator.(*operatorfake.Clientset).Actions()...)
	for _, a := range actions {
		if v := a.GetVerb(); v != "get" && v != "list" && v != "watch" {
			out = append(out, v+" "+a.GetResource().Resource)
		}
	}
	return out
}

// dryRun runs p as a dry run and returns its error and each step's last
// status, "id status".
func dryRun(t *testing.T, p *plan.Plan, onEvent func(plan.Event)) (error, []string) {
	t.Helper()
	last := map[string]plan.Status{}
	err := p.Run(t.Context(), plan.RunOptions{DryRun: true, Report: func(e plan.Event) {
		if e.Status != plan.Progress {
			last[e.Step.ID] = e.Status
		}
		if onEvent != nil {
			onEvent(e)
		}
	}})
	var got []string
	for _, s := range p.Steps {
		if st, ok := last[s.ID]; ok {
			got = append(got, s.ID+" "+string(st))
		}
	}
	return err, got
}

// A dry run of 2.4.1 runs the checks an operator makes first (the member
// is the unhealthy one, quorum holds without it, the backup verifies, the
// release's procedure) and changes nothing: no member removed, no write to
// the API (no run state either), every later step reported as WouldRun.
func TestReplacePlanDryRunChecksAndWritesNothing(t *testing.T) {
	f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
	deps := planDeps(f, notReadyNode("master-0", true), readyNode("master-1"), readyNode("master-2"), secret("etcd-peer-master-0"))
	var verified []string
	p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, BackupDir: "/backup", Logger: quiet,
		VerifyBackup: func(_ context.Context, dir string) error { verified = append(verified, dir); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var quorumMsg string
	err, got := dryRun(t, p, func(e plan.Event) {
		if e.Step.ID == "check-quorum" && e.Status == plan.Progress {
			quorumMsg = e.Message
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"identify done", "check-quorum done", "check-backup done", "release done"}
	for _, id := range []string{"remove-member", "quorum-guard-off", "delete-node", "delete-secrets", "recreate-machine", "force-redeploy", "wait-revision", "quorum-guard-on", "verify"} {
		want = append(want, id+" "+string(plan.WouldRun))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("steps:\n%q\nwant\n%q", got, want)
	}
	if !strings.Contains(quorumMsg, "2 of 2 voting members healthy, quorum needs 2") {
		t.Fatalf("check-quorum said %q", quorumMsg)
	}
	if !slices.Equal(verified, []string{"/backup"}) {
		t.Fatalf("VerifyBackup calls %q", verified)
	}
	if len(f.Removed()) != 0 {
		t.Fatalf("removed %x", f.Removed())
	}
	if w := writes(deps); len(w) != 0 {
		t.Fatalf("a dry run wrote: %q", w)
	}

	// The real run after the dry run starts afresh: its first step records
	// the run state (the dry run left none behind).
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) {
		if e.Step.ID == "remove-member" && e.Status == plan.Started {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the cancelled run succeeded")
	}
	live, ok := stateCMs(t, deps)[defaultStateConfigMap]
	if !ok || len(live.Finished) != 4 || live.MemberID == "" {
		t.Fatalf("state after the real run's checks: %+v (found %v)", live, ok)
	}
}

// A check that fails fails the dry run with its typed error, before
// anything is written.
func TestReplacePlanDryRunFailsOnCheck(t *testing.T) {
	t.Run("quorum lost", func(t *testing.T) {
		f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0", "master-1")
		deps := planDeps(f, notReadyNode("master-0", true), readyNode("master-1"), readyNode("master-2"))
		p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, SkipBackupCheck: true, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		err, _ = dryRun(t, p, nil)
		var ql *QuorumLostError
		var se *plan.StepError
		if !errors.As(err, &se) || se.Step != "identify" || !errors.As(err, &ql) || !errors.Is(err, plan.ErrNothingChanged) {
			t.Fatalf("err = %v, want identify failing with a *QuorumLostError", err)
		}
		if w := writes(deps); len(w) != 0 || len(f.Removed()) != 0 {
			t.Fatalf("a dry run wrote %q, removed %x", w, f.Removed())
		}
	})
	t.Run("another member fails after identify", func(t *testing.T) {
		f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
		deps := planDeps(f, notReadyNode("master-0", true), readyNode("master-1"), readyNode("master-2"))
		p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, SkipBackupCheck: true, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		err, got := dryRun(t, p, func(e plan.Event) {
			if e.Step.ID == "identify" && e.Status == plan.Done {
				f.Down("master-1")
			}
		})
		var se *plan.StepError
		if !errors.As(err, &se) || se.Step != "check-quorum" || !errors.Is(err, ErrWouldLoseQuorum) {
			t.Fatalf("err = %v, want check-quorum failing with ErrWouldLoseQuorum; steps %q", err, got)
		}
		if w := writes(deps); len(w) != 0 || len(f.Removed()) != 0 {
			t.Fatalf("a dry run wrote %q, removed %x", w, f.Removed())
		}
	})
	t.Run("backup does not verify", func(t *testing.T) {
		f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
		deps := planDeps(f, notReadyNode("master-0", true), readyNode("master-1"), readyNode("master-2"))
		sentinel := errors.New("snapshot sha256 mismatch")
		p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, BackupDir: "/backup", Logger: quiet,
			VerifyBackup: func(context.Context, string) error { return sentinel }})
		if err != nil {
			t.Fatal(err)
		}
		err, _ = dryRun(t, p, nil)
		var se *plan.StepError
		if !errors.As(err, &se) || se.Step != "check-backup" || !errors.Is(err, sentinel) {
			t.Fatalf("err = %v, want check-backup failing with the verification's error", err)
		}
		if w := writes(deps); len(w) != 0 {
			t.Fatalf("a dry run wrote %q", w)
		}
	})
}

// A dry run finds the unfinished state of another replacement as the real
// run would (*AnotherRunError) and leaves it where it is.
func TestReplacePlanDryRunAnotherRun(t *testing.T) {
	f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
	deps := planDeps(f, notReadyNode("master-0", true), readyNode("master-1"), readyNode("master-2"))
	runs := map[string]int{}
	if err := trackedPlan(t, deps, "master-1", "2.4.2", false, runs, "verify").Run(t.Context(), plan.RunOptions{}); err == nil {
		t.Fatal("the crashed run succeeded")
	}
	before := stateCMs(t, deps)
	deps.Kube.(*kubefake.Clientset).ClearActions()
	p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, SkipBackupCheck: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	err, _ = dryRun(t, p, nil)
	var another *AnotherRunError
	if !errors.As(err, &another) || another.Unfinished.Node != "master-1" {
		t.Fatalf("err = %v, want *AnotherRunError", err)
	}
	if w := writes(deps); len(w) != 0 {
		t.Fatalf("a dry run wrote %q", w)
	}
	if after := stateCMs(t, deps); len(after) != len(before) {
		t.Fatalf("states %v, were %v", after, before)
	}

	// With AbandonUnfinished the dry run reports what the real run would
	// move aside, and still moves nothing.
	p, err = ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, SkipBackupCheck: true, Logger: quiet, AbandonUnfinished: true})
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	err, _ = dryRun(t, p, func(e plan.Event) {
		if e.Status == plan.Progress {
			notes = append(notes, e.Message)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "a real run moves it aside") {
		t.Fatalf("progress %q", notes)
	}
	if w := writes(deps); len(w) != 0 {
		t.Fatalf("a dry run wrote %q", w)
	}
}

// A real run that fails in a read-only first step changed nothing
// (plan.ErrNothingChanged); one resumed from a state that recorded a
// change (written before check-quorum existed) skips check-quorum.
func TestReplacePlanCheckQuorumReal(t *testing.T) {
	f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
	deps := planDeps(f, notReadyNode("master-0", true), readyNode("master-1"), readyNode("master-2"))
	p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, SkipBackupCheck: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(t.Context(), plan.RunOptions{Report: func(e plan.Event) {
		if e.Step.ID == "identify" && e.Status == plan.Done {
			f.Down("master-1")
		}
	}})
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "check-quorum" || !errors.Is(err, ErrWouldLoseQuorum) || !errors.Is(err, plan.ErrNothingChanged) {
		t.Fatalf("err = %v, want check-quorum failing with ErrWouldLoseQuorum, nothing changed", err)
	}
	if len(f.Removed()) != 0 {
		t.Fatalf("removed %x", f.Removed())
	}

	// The state of an older run that removed nothing yet but stopped
	// etcd (2.4.2) has no check-quorum: resumed, the step is skipped.
	r := &replacement{state: replaceRunState{Finished: map[string]time.Time{"identify": {}, "check-backup": {}, "release": {}, "stop-etcd": {}}}}
	if err := r.checkQuorum(t.Context(), func(string) {}); !errors.Is(err, plan.ErrSkipped) {
		t.Fatalf("resumed check-quorum: %v, want skipped", err)
	}
}
