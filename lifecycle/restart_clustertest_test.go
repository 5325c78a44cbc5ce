package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// The chapter 3 + 4 drill on the simulated cluster: take a backup, shut
// every host down with "shutdown -h 1", power the machines on again with
// kubelet client certificates expired meanwhile, and Restart: nodes file
// node-bootstrapper CSRs, Restart approves them, every node is Ready and no
// ClusterOperator is degraded.
func TestShutdownRestartDrillOnClusterTest(t *testing.T) {
	t.Parallel() // its own cluster
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c := clustertest.Start(t, clustertest.Options{})
	masters, workers := c.Masters(), c.Workers()
	nodes := append(append([]string(nil), masters...), workers...)

	// 3.1: a backup first.
	etcd, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	take, err := backup.TakePlan(backup.TakeDeps{Etcd: etcd, Host: c.Host(masters[0]), Config: c.Config}, backup.TakeOptions{Dir: dir, MinClusterAge: -1})
	if err == nil {
		err = take.Run(ctx, plan.RunOptions{})
	}
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	etcd.Close()

	hosts := func(node string) (host.Host, error) {
		if h := c.Host(node); h != nil {
			return h, nil
		}
		return nil, errors.New("no host for " + node)
	}
	// Refused when the backup is too old.
	_, err = shutdownPlan(ctx, t, lifecycle.Deps{Kube: c.Kube, Hosts: hosts}, lifecycle.ShutdownOptions{
		BackupDir: dir, Now: func() time.Time { return time.Now().Add(48 * time.Hour) },
	})
	if !errors.Is(err, lifecycle.ErrNoRecentBackup) {
		t.Fatalf("shutdown with a 2-day-old backup: err = %v", err)
	}

	// Current releases: the kubelet signer must outlast the planned
	// shutdown; refused before any node is cordoned.
	signerExpiry := checkSignerRefusal(ctx, t, c, hosts, dir)
	// The external API endpoint down: a master's localhost-recovery
	// kubeconfig, dialled from the master, reaches its kube-apiserver.
	checkRecoveryFallback(ctx, t, c)
	app, daemon := seedWorkerPods(ctx, t, c, workers[0])

	res, err := shutdownPlan(ctx, t, lifecycle.Deps{Kube: c.Kube, Hosts: hosts}, lifecycle.ShutdownOptions{
		BackupDir: dir, PlannedDuration: 24 * time.Hour, DrainWorkers: true,
	})
	if err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if res.Backup == nil || len(res.Nodes) != len(nodes) || !res.SignerNotAfter.Equal(signerExpiry) {
		t.Fatalf("result %+v", res)
	}
	if got, want := len(res.Cordoned()), len(nodes); got != want {
		t.Errorf("cordoned %v, want every node", res.Cordoned())
	}
	checkDrained(ctx, t, c, res, app, daemon)
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		for _, n := range nodes {
			if c.Host(n).Powered() {
				return false, nil
			}
		}
		return !c.APIServerRunning(), nil
	})
	if err != nil {
		t.Fatalf("hosts or kube-apiserver still up after shutdown -h 1: %v", err)
	}

	// Chapter 4 step 2: start all machines. They are powered on first, as
	// from a cloud console: clustertest's StartMachine also records the
	// instance state through the API, which needs etcd quorum (two masters).
	for _, n := range nodes {
		if err := c.Host(n).PowerOn(); err != nil {
			t.Fatalf("powering on %s: %v", n, err)
		}
	}
	for _, n := range nodes {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			if err := c.StartMachine(ctx, n); err != nil {
				t.Logf("StartMachine %s: %v (retrying)", n, err)
				return false, nil
			}
			return true, nil
		})
		if err != nil {
			t.Fatalf("StartMachine %s: %v", n, err)
		}
	}
	// The cluster slept past its certificates' expiry.
	if err := c.ExpireNodeCertificates(ctx, nodes...); err != nil {
		t.Fatal(err)
	}
	// What the administrator finds ten minutes after power-on: every node
	// NotReady, its kubelet unable to authenticate.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return false, nil
				}
			}
		}
		return len(list.Items) == len(nodes), nil
	})
	if err != nil {
		t.Fatalf("nodes did not turn NotReady after their certificates expired: %v", err)
	}

	rr, err := restartPlan(ctx, t, lifecycle.Deps{Kube: c.Kube, Config: c.Config, Machine: c.Machine}, lifecycle.RestartOptions{
		Interval:       200 * time.Millisecond,
		MastersTimeout: 2 * time.Minute, WorkersTimeout: 2 * time.Minute, OperatorsTimeout: 2 * time.Minute,
		Uncordon: res.Cordoned(),
	})
	if err != nil {
		c.LogTails(t, 40)
		t.Fatalf("Restart: %v", err)
	}
	if strings.Join(rr.Uncordoned, ",") != strings.Join(res.Cordoned(), ",") {
		t.Errorf("uncordoned %v, want %v", rr.Uncordoned, res.Cordoned())
	}
	for _, n := range nodes {
		node, err := c.Kube.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if err != nil || node.Spec.Unschedulable {
			t.Errorf("%s still unschedulable after the restart (err %v)", n, err)
		}
	}
	for _, n := range append(rr.Masters, rr.Workers...) {
		if !n.Ready {
			t.Errorf("%s not Ready", n.Name)
		}
	}
	if len(rr.Masters) != len(masters) || len(rr.Workers) != len(workers) {
		t.Errorf("masters %v workers %v", rr.Masters, rr.Workers)
	}
	if len(rr.Operators) == 0 || len(rr.NotReadyOperators) != 0 {
		t.Errorf("operators %v, not ready %v", rr.Operators, rr.NotReadyOperators)
	}
	approved := map[string]bool{}
	for _, d := range rr.CSRs {
		if d.Outcome == certs.Approved && d.Kind == certs.KindNodeClient {
			approved[d.Node] = true
		}
	}
	if len(approved) != len(nodes) {
		t.Errorf("client CSRs approved for %v, want all of %s", approved, strings.Join(nodes, ", "))
	}
}

// A master that does not come back (its machine was never started): Restart
// gives up after its timeout with a RecoveryError naming the master and
// pointing to the restore procedure.
func TestRestartDidNotRecoverOnClusterTest(t *testing.T) {
	t.Parallel() // its own cluster
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := clustertest.Start(t, clustertest.Options{Workers: -1})
	lost := c.Masters()[2]
	if err := c.StopMachine(ctx, lost); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := c.Kube.CoreV1().Nodes().Get(ctx, lost, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status != corev1.ConditionTrue, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatalf("%s did not turn NotReady: %v", lost, err)
	}
	_, err := restartPlan(ctx, t, lifecycle.Deps{Kube: c.Kube, Config: c.Config, Machine: c.Machine}, lifecycle.RestartOptions{
		Interval: 200 * time.Millisecond, MastersTimeout: 5 * time.Second,
	})
	var re *lifecycle.RecoveryError
	if !errors.Is(err, lifecycle.ErrClusterDidNotRecover) || !errors.As(err, &re) {
		t.Fatalf("err = %v, want a RecoveryError", err)
	}
	if re.Phase != "masters" || len(re.NotReady) != 1 || !strings.HasPrefix(re.NotReady[0], lost+" ") {
		t.Errorf("phase %q not ready %q, want masters [%s ...]", re.Phase, re.NotReady, lost)
	}
	if !strings.Contains(err.Error(), "runbook 5.3") {
		t.Errorf("error does not point to the restore procedure: %v", err)
	}
}
