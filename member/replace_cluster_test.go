package member

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/plan"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// simCluster starts a simulated control plane and an etcd client to it.
func simCluster(t *testing.T) (*clustertest.Cluster, *clientv3.Client, Deps) {
	t.Helper()
	return simClusterOf(t, clustertest.Options{})
}

// simClusterOf starts a simulated cluster with opts; the deps carry its
// config client, so the plans detect its release.
func simClusterOf(t *testing.T, opts clustertest.Options) (*clustertest.Cluster, *clientv3.Client, Deps) {
	t.Helper()
	c := clustertest.Start(t, opts)
	cli, err := c.EtcdClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return c, cli, Deps{Etcd: cli, Operator: c.Operator, Kube: c.Kube, Machine: c.Machine, Config: c.Config}
}

func putKeys(t *testing.T, ctx context.Context, cli *clientv3.Client, n int) {
	t.Helper()
	for i := range n {
		if _, err := cli.Put(ctx, fmt.Sprintf("/lifeboat-test/key-%03d", i), fmt.Sprintf("value-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func checkKeys(t *testing.T, ctx context.Context, cli *clientv3.Client, n int) {
	t.Helper()
	resp, err := cli.Get(ctx, "/lifeboat-test/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != n {
		t.Fatalf("%d keys readable after the replacement, want %d", len(resp.Kvs), n)
	}
	for i, kv := range resp.Kvs {
		if string(kv.Value) != fmt.Sprintf("value-%d", i) {
			t.Fatalf("key %s = %q", kv.Key, kv.Value)
		}
	}
}

// waitForState polls FindUnhealthyMember until it reports want for node:
// the operator's condition and the pod status follow the fault a few
// ticks later.
func waitForState(t *testing.T, ctx context.Context, deps Deps, node string, want State) *Finding {
	t.Helper()
	var last *Finding
	var lastErr error
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		f, err := FindUnhealthyMember(ctx, deps, FindOptions{HealthTimeout: 2 * time.Second, Logger: quiet})
		if err == nil && f.Node == node && f.State == want && f.Disagreement == "" {
			return f
		}
		last, lastErr = f, err
		time.Sleep(300 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("state never became %s for %s: last %s %s, disagreement %q\n%s", want, node, last.Node, last.State, last.Disagreement, strings.Join(last.Evidence, "\n"))
	}
	t.Fatalf("state never became %s for %s: last error %v", want, node, lastErr)
	return nil
}

func runPlan(t *testing.T, ctx context.Context, p *plan.Plan) {
	t.Helper()
	t.Logf("dry run:\n%s", p.Describe())
	if err := p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) { t.Log(e.String()) }}); err != nil {
		t.Fatal(err)
	}
}

// TestReplaceStoppedMachine is runbook 2.4.1 end to end on the simulated
// cluster: a master's machine is stopped, the member is found with state
// MachineNotRunning, and the plan replaces it.
func TestReplaceStoppedMachine(t *testing.T) {
	t.Parallel() // its own cluster (simCluster)
	c, cli, deps := simCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	putKeys(t, ctx, cli, 50)
	victim := c.Masters()[0]
	oldMachine := c.MachineName(victim)
	// Runbook 2.1: a backup first; the plan verifies it.
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
	t.Logf("finding: %s %s (procedure %s)\n%s", f.Node, f.State, f.State.Procedure(), strings.Join(f.Evidence, "\n"))

	saveDir := t.TempDir()
	p, err := ReplacePlan(deps, ReplaceOptions{Node: f.Node, State: f.State, BackupDir: backupDir,
		Interval: 200 * time.Millisecond, HealthTimeout: 2 * time.Second, Logger: quiet,
		Machine: RecreateOptions{SaveDir: saveDir}})
	if err != nil {
		t.Fatal(err)
	}
	// First run: interrupted once the old Machine is being deleted.
	rctx, interrupt := context.WithCancel(ctx)
	err = p.Run(rctx, plan.RunOptions{Report: func(e plan.Event) {
		t.Log(e.String())
		if e.Step.ID == "recreate-machine" && strings.HasPrefix(e.Message, "waiting for machine") {
			interrupt()
		}
	}})
	interrupt()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	// Second run of the same plan: it resumes from the run state in the
	// cluster (finished steps skipped); recreate-machine recognises what
	// the first run did.
	runPlan(t, ctx, p)

	// End state the runbook's verification checks.
	v, err := Verify(ctx, deps, VerifyOptions{Gone: victim, HealthTimeout: 2 * time.Second})
	if err != nil || !v.OK() {
		t.Fatalf("verification: %v %q", err, v.Problems)
	}
	t.Log(v.Summary())
	if _, err := c.Machine.MachineV1beta1().Machines(machineNamespace).Get(ctx, oldMachine, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("old machine %s: %v", oldMachine, err)
	}
	ms, err := c.Machine.MachineV1beta1().Machines(machineNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var newMachine string
	for _, m := range ms.Items {
		if m.Annotations[annotationReplacesNode] == victim {
			newMachine = m.Name
			if m.Status.Phase == nil || *m.Status.Phase != "Running" {
				t.Fatalf("new machine %s phase %v", m.Name, m.Status.Phase)
			}
		}
	}
	if newMachine == "" {
		t.Fatal("no new machine")
	}
	for _, s := range SecretNames(victim) {
		if _, err := c.Kube.CoreV1().Secrets(etcdNamespace).Get(ctx, s, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("secret %s of the old member: %v", s, err)
		}
	}
	// The saved new-master-machine.yaml is kept, retired under a done-
	// name once the replacement finished, so no later run re-creates it.
	if _, err := os.Stat(filepath.Join(saveDir, newMachineFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s not retired: %v", newMachineFile, err)
	}
	if done, _ := filepath.Glob(filepath.Join(saveDir, "new-master-machine.done-*.yaml")); len(done) != 1 {
		t.Errorf("retired %s: %q, want one", newMachineFile, done)
	}
	checkKeys(t, ctx, cli, 50)
}

// TestReplaceCrashloopingMember is runbook 2.4.2 end to end: the etcd pod
// of a master crashloops, the plan stops it on the host (manifest and data
// directory moved aside and kept), removes the member, deletes its secrets
// and forces a redeployment that brings it back.
func TestReplaceCrashloopingMember(t *testing.T) {
	t.Parallel() // its own cluster (simCluster)
	c, cli, deps := simCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	putKeys(t, ctx, cli, 50)
	victim := c.Masters()[1]
	if err := c.CrashloopEtcd(ctx, victim); err != nil {
		t.Fatal(err)
	}
	f := waitForState(t, ctx, deps, victim, EtcdPodCrashlooping)
	t.Logf("finding: %s %s (procedure %s)\n%s", f.Node, f.State, f.State.Procedure(), strings.Join(f.Evidence, "\n"))

	h := c.Host(victim)
	p, err := ReplacePlan(deps, ReplaceOptions{Node: f.Node, State: f.State, SkipBackupCheck: true, Host: h,
		Interval: 200 * time.Millisecond, HealthTimeout: 2 * time.Second, Logger: quiet,
		Stop: StopOptions{Interval: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	runPlan(t, ctx, p)

	v, err := Verify(ctx, deps, VerifyOptions{HealthTimeout: 2 * time.Second})
	if err != nil || !v.OK() {
		t.Fatalf("verification: %v %q", err, v.Problems)
	}
	t.Log(v.Summary())
	for _, p := range []string{"/var/lib/etcd-backup/etcd-pod.yaml", "/tmp/etcd/member"} {
		if _, err := h.Stat(ctx, p); err != nil {
			t.Errorf("%s is not kept: %v", p, err)
		}
	}
	checkKeys(t, ctx, cli, 50)
}

// TestTwoMembersDownPointsToRestore: with two of three masters stopped,
// FindUnhealthyMember and RemoveMember refuse with ErrQuorumLost, whose
// message points to the restore procedure.
func TestTwoMembersDownPointsToRestore(t *testing.T) {
	t.Parallel() // its own cluster (simCluster)
	c, cli, deps := simCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := c.StopMachine(ctx, c.Masters()[0]); err != nil {
		t.Fatal(err)
	}
	// The second failure needs no API: once it happens the API server has
	// no quorum to write through.
	if err := c.KillEtcd(ctx, c.Masters()[1]); err != nil {
		t.Fatal(err)
	}
	_, err := FindUnhealthyMember(ctx, deps, FindOptions{HealthTimeout: 2 * time.Second, Logger: quiet})
	if !errors.Is(err, ErrQuorumLost) || !strings.Contains(err.Error(), "restore.Plan") {
		t.Fatalf("FindUnhealthyMember: %v, want ErrQuorumLost", err)
	}
	t.Log(err)
	resp, err := cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range resp.Members {
		if m.Name == c.Masters()[0] {
			_, err := RemoveMember(ctx, cli, m.ID, RemoveOptions{HealthTimeout: 2 * time.Second, Logger: quiet})
			if !errors.Is(err, ErrQuorumLost) {
				t.Fatalf("RemoveMember: %v, want ErrQuorumLost", err)
			}
		}
	}
	after, err := cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil || len(after.Members) != 3 {
		t.Fatalf("members after the refusals: %v, %v", after, err)
	}
}
