package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestRestoreProgramSecondRecoveryRestoresNewBackup is fault 1 of issue
// 10 the way an administrator meets it: a recovery, then weeks later a
// second one on the same recovery host with a newer backup. The second
// run must restore the newer backup and say so, not print the first
// run's "restored" line over an untouched cluster.
func TestRestoreProgramSecondRecoveryRestoresNewBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole simulated cluster")
	}
	if _, err := clustertest.FindBinaries(); err != nil {
		t.Skipf("etcd and kube-apiserver binaries missing (run hack/tools.sh): %v", err)
	}
	t.Parallel() // its own cluster; run() keeps no global state
	ctx := t.Context()
	c := clustertest.Start(t, clustertest.Options{Workers: -1})
	masters := c.Masters()
	dial := func(_ context.Context, name, addr string) (host.Host, error) {
		if h := c.Host(addr); h != nil {
			return h, nil
		}
		return nil, fmt.Errorf("no simulated host %q", addr)
	}
	// recovery takes a backup holding namespace ns, deletes ns, loses
	// quorum and runs the program with that backup.
	recovery := func(ns string) string {
		t.Helper()
		if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		etcd, err := c.EtcdClient(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		b := new(backup.Backup)
		take, err := backup.TakePlan(backup.TakeDeps{Etcd: etcd, Host: c.Host(masters[0]), Config: c.Config},
			backup.TakeOptions{Dir: dir, MinClusterAge: -1, Result: b})
		if err == nil {
			err = take.Run(ctx, plan.RunOptions{})
		}
		etcd.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, n := range masters[1:] {
			deadline := time.Now().Add(2 * time.Minute)
			for err := c.KillEtcd(ctx, n); err != nil; err = c.KillEtcd(ctx, n) {
				if time.Now().After(deadline) {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Second)
			}
		}
		var out, errb bytes.Buffer
		args := []string{"-backup", dir, "-recovery", masters[0], "-masters", strings.Join(masters[1:], ","),
			"-kubeconfig", c.KubeconfigPath, "-cluster-version", "4.5.2", "-interval", "200ms"}
		if code := run(args, &out, &errb, dial); code != exitOK {
			c.LogTails(t, 30)
			t.Fatalf("restore of %s: exit %d\n%s%s", b.Snapshot.Name, code, out.String(), errb.String())
		}
		want := "restored: " + b.Snapshot.Name + " (sha256 "
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
		if strings.Contains(out.String(), "finished in an earlier run") {
			t.Fatalf("the run skipped steps of an earlier run:\n%s", out.String())
		}
		if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			t.Fatalf("namespace %s not restored: %v", ns, err)
		}
		return out.String()
	}
	first := recovery("first-backup")
	second := recovery("second-backup")
	if first == second {
		t.Fatal("the second recovery printed the first one's output")
	}
}
