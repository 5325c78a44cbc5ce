package restore_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestDrillClassicQuorumGuardRelease is the DR drill (namespace deleted,
// objects written, two masters' etcd killed) on a simulated 4.14.8
// cluster, whose etcd operator holds back every new etcd revision while
// fewer members are healthy than there are masters. The classic restore
// of 4.11-4.17 turns the guard off before the forced etcd redeployment
// and puts it back after that rollout; without those steps the restore
// stalls at wait-rollout/etcd.
func TestDrillClassicQuorumGuardRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	const rel = "4.14.8"
	d := startDrillOf(t, false, rel)
	const overrides = `{"lifeboat-test":"kept"}`
	opts := d.options(t)
	opts.ClusterVersion = rel
	// A stalled rollout fails the drill soon instead of waiting out
	// RolloutTimeout (the guard's refusal is what a stall looks like).
	opts.RolloutStallTimeout = 2 * time.Minute

	// Dry run: the classic plan, with the guard steps around the etcd rollout.
	var ids []string
	dry := opts
	dry.DryRun = true
	dry.Report = func(e plan.Event) {
		if len(ids) == 0 || ids[len(ids)-1] != e.Step.ID {
			ids = append(ids, e.Step.ID)
		}
		if e.Step.ID == "quorum-guard-off" && !strings.Contains(e.Message, "release "+rel) {
			t.Errorf("dry run of quorum-guard-off does not name the release: %s", e.Message)
		}
	}
	if _, err := runRestore(t.Context(), dry); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	off, on := slices.Index(ids, "quorum-guard-off"), slices.Index(ids, "quorum-guard-on")
	if off < 0 || on < 0 || off != slices.Index(ids, "force-redeploy/etcd")-1 || on != slices.Index(ids, "wait-rollout/etcd")+1 {
		t.Errorf("dry run steps %v: want quorum-guard-off before force-redeploy/etcd and quorum-guard-on after wait-rollout/etcd", ids)
	}
	if !slices.Contains(ids, "stop-kube-apiserver/"+d.others[0]) {
		t.Errorf("dry run steps %v: not the classic plan", ids)
	}

	var guardAtRollout, guardOnBeforeAPI bool
	opts.Report = func(e plan.Event) {
		t.Log(e.String())
		if e.Step.ID == "quorum-guard-off" && e.Status == plan.Started {
			d.setOverrides(t, overrides)
		}
		if e.Step.ID == "wait-rollout/etcd" && e.Status == plan.Started {
			g, err := lifecycle.ReadQuorumGuard(t.Context(), d.c.Operator)
			guardAtRollout = err == nil && g.Disabled()
		}
		if e.Step.ID == "force-redeploy/kubeapiserver" && e.Status == plan.Started {
			g, err := lifecycle.ReadQuorumGuard(t.Context(), d.c.Operator)
			guardOnBeforeAPI = err == nil && !g.Disabled()
		}
	}
	state, err := runRestore(t.Context(), opts)
	if err != nil {
		d.dumpEtcdOperator(t)
		t.Fatalf("restore: %v", err)
	}
	if !guardAtRollout {
		t.Error("the quorum guard was not off during the etcd rollout")
	}
	if !guardOnBeforeAPI {
		t.Error("the quorum guard was not back on after the etcd rollout")
	}
	if state.QuorumGuard == nil || !state.QuorumGuard.Restored || state.QuorumGuard.RestoredBy != "quorum-guard-on" {
		t.Errorf("guard record %+v", state.QuorumGuard)
	}
	d.checkGuardOn(t, overrides)
	d.check(t)
}
