package member

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestReplaceStoppedMachineWithControlPlaneMachineSet: a 4.14 cluster whose
// ControlPlaneMachineSet is Active. The current procedure runs (chosen
// from the ClusterVersion): the quorum guard is turned off after the member
// is removed and the failed node deleted; the stopped master's Machine is
// deleted and the set's replacement (same index, the set's own name) is
// waited for and adopted; lifeboat creates no Machine. A first run fails
// mid-plan (its save directory is a file) and a second is cancelled once
// the old Machine is deleted: after each the guard is back on; the third
// finishes with the guard on, as it was.
func TestReplaceStoppedMachineWithControlPlaneMachineSet(t *testing.T) {
	c, cli, deps := simClusterOf(t, clustertest.Options{ControlPlaneMachineSet: "Active", Release: "4.14.8"})
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	if active, err := activeControlPlaneMachineSet(ctx, c.Machine, ""); err != nil || !active {
		t.Fatalf("ActiveControlPlaneMachineSet = %v, %v", active, err)
	}
	putKeys(t, ctx, cli, 20)
	victim := c.Masters()[0]
	oldMachine := c.MachineName(victim)
	backupDir := t.TempDir()
	take, err := backup.TakePlan(backup.TakeDeps{Etcd: cli, Host: c.Host(c.Masters()[1]), Config: c.Config},
		backup.TakeOptions{Dir: backupDir, MinClusterAge: -1, Logger: quiet})
	if err == nil {
		err = take.Run(ctx, plan.RunOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StopMachine(ctx, victim); err != nil {
		t.Fatal(err)
	}
	f := waitForState(t, ctx, deps, victim, MachineNotRunning)
	guardOn := func(when string) {
		t.Helper()
		if g, err := lifecycle.ReadQuorumGuard(ctx, c.Operator); err != nil || g.Set {
			t.Fatalf("quorum guard %s: %v, %v; want no override, as before", when, g, err)
		}
	}
	newPlan := func(saveDir string) *plan.Plan {
		p, err := ReplacePlan(deps, ReplaceOptions{Node: f.Node, State: f.State, BackupDir: backupDir,
			Interval: 200 * time.Millisecond, HealthTimeout: 2 * time.Second, Logger: quiet,
			Machine: RecreateOptions{SaveDir: saveDir}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// 1: fails in recreate-machine, after the guard was turned off.
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sawOff := false
	err = newPlan(notADir).Run(ctx, plan.RunOptions{Report: func(e plan.Event) {
		t.Log(e.String())
		if strings.Contains(e.Message, "etcd quorum guard turned off") {
			sawOff = true
		}
	}})
	if err == nil || !sawOff {
		t.Fatalf("run with a bad save directory: err %v, guard turned off %v", err, sawOff)
	}
	guardOn("after a failed run")
	if _, err := c.Kube.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("node %s after the current procedure's delete-node: %v", victim, err)
	}
	// 2: cancelled once the old Machine is deleted.
	p := newPlan(t.TempDir())
	rctx, interrupt := context.WithCancel(ctx)
	err = p.Run(rctx, plan.RunOptions{Report: func(e plan.Event) {
		t.Log(e.String())
		if e.Step.ID == "recreate-machine" && strings.Contains(e.Message, "ControlPlaneMachineSet creates its replacement") {
			interrupt()
		}
	}})
	interrupt()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	guardOn("after a cancelled run")
	// 3: resumed to the end.
	runPlan(t, ctx, p)
	guardOn("after the replacement")

	v, err := Verify(ctx, deps, VerifyOptions{Gone: victim, HealthTimeout: 2 * time.Second})
	if err != nil || !v.OK() {
		t.Fatalf("verification: %v %q", err, v.Problems)
	}
	if _, err := c.Machine.MachineV1beta1().Machines(machineNamespace).Get(ctx, oldMachine, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("old machine %s: %v", oldMachine, err)
	}
	ms, err := c.Machine.MachineV1beta1().Machines(machineNamespace).List(ctx, metav1.ListOptions{LabelSelector: machineRoleLabel + "=master"})
	if err != nil {
		t.Fatal(err)
	}
	// The set's name for index 0: <prefix>-<5 random>-0, not the runbook's
	// next index (-master-3) that a hand-made Machine would get.
	setName := regexp.MustCompile(`^` + regexp.QuoteMeta(strings.TrimSuffix(oldMachine, "-0")) + `-[a-z0-9]{5}-0$`)
	var adopted []string
	for _, m := range ms.Items {
		if m.Annotations[annotationReplacesNode] == victim {
			adopted = append(adopted, m.Name)
			if !setName.MatchString(m.Name) {
				t.Errorf("replacement %s was not made by the ControlPlaneMachineSet", m.Name)
			}
		}
	}
	if len(adopted) != 1 || len(ms.Items) != 3 {
		t.Fatalf("adopted %v of %d master machines", adopted, len(ms.Items))
	}
	checkKeys(t, ctx, cli, 20)
}
