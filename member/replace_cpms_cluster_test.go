package member

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestReplaceStoppedMachineWithControlPlaneMachineSet: on a cluster whose
// ControlPlaneMachineSet is Active, the stopped master's Machine is
// deleted and the set's replacement (same index, the set's own name) is
// waited for and adopted; lifeboat creates no Machine. The run is
// interrupted once the old Machine is deleted and resumed.
func TestReplaceStoppedMachineWithControlPlaneMachineSet(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{ControlPlaneMachineSet: "Active"})
	cli, err := c.EtcdClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	deps := Deps{Etcd: cli, Operator: c.Operator, Kube: c.Kube, Machine: c.Machine}
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	if active, err := ActiveControlPlaneMachineSet(ctx, c.Machine, ""); err != nil || !active {
		t.Fatalf("ActiveControlPlaneMachineSet = %v, %v", active, err)
	}
	putKeys(t, ctx, cli, 20)
	victim := c.Masters()[0]
	oldMachine := c.MachineName(victim)
	backupDir := t.TempDir()
	if _, err := backup.Take(ctx, cli, backupDir, backup.TakeOptions{Host: c.Host(c.Masters()[1]), Config: c.Config, MinClusterAge: -1, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	if err := c.StopMachine(ctx, victim); err != nil {
		t.Fatal(err)
	}
	f := waitForState(t, ctx, deps, victim, MachineNotRunning)
	p, err := ReplacePlan(deps, ReplaceOptions{Node: f.Node, State: f.State, BackupDir: backupDir,
		Interval: 200 * time.Millisecond, HealthTimeout: 2 * time.Second, Logger: quiet,
		Machine: RecreateOptions{SaveDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
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
	runPlan(t, ctx, p)

	v, err := Verify(ctx, deps, VerifyOptions{Gone: victim, HealthTimeout: 2 * time.Second})
	if err != nil || !v.OK() {
		t.Fatalf("verification: %v %q", err, v.Problems)
	}
	if _, err := c.Machine.MachineV1beta1().Machines(MachineNamespace).Get(ctx, oldMachine, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("old machine %s: %v", oldMachine, err)
	}
	ms, err := c.Machine.MachineV1beta1().Machines(MachineNamespace).List(ctx, metav1.ListOptions{LabelSelector: machineRoleLabel + "=master"})
	if err != nil {
		t.Fatal(err)
	}
	// The set's name for index 0: <prefix>-<5 random>-0, not the runbook's
	// next index (-master-3) that a hand-made Machine would get.
	setName := regexp.MustCompile(`^` + regexp.QuoteMeta(strings.TrimSuffix(oldMachine, "-0")) + `-[a-z0-9]{5}-0$`)
	var adopted []string
	for _, m := range ms.Items {
		if m.Annotations[AnnotationReplacesNode] == victim {
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
