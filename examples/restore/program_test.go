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

// TestRestoreProgram runs the program against the simulated cluster, its
// masters reached through the clustertest hosts instead of SSH: a dry run
// changes nothing, then the restore brings a deleted namespace back after
// quorum was lost.
func TestRestoreProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole simulated cluster")
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

	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "keep-me"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
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
		t.Fatal(err)
	}
	etcd.Close()
	if err := c.Kube.CoreV1().Namespaces().Delete(ctx, "keep-me", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	args := []string{"-backup", dir, "-recovery", masters[0], "-masters", strings.Join(masters[1:], ","),
		"-kubeconfig", c.KubeconfigPath, "-cluster-version", "4.5.2", "-interval", "200ms"}
	var out, errb bytes.Buffer
	if code := run(append(args, "-dry-run"), &out, &errb, dial); code != exitOK {
		t.Fatalf("dry run: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "nothing was changed") || !strings.Contains(out.String(), "classic plan: decided by") {
		t.Errorf("dry run output (want the decision ResolvePlan made, and nothing changed):\n%s", out.String())
	}
	if _, err := c.Host(masters[1]).Stat(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml"); err != nil {
		t.Fatalf("the dry run moved a manifest: %v", err)
	}

	// Quorum lost: two members killed.
	for _, n := range masters[1:] {
		deadline := time.Now().Add(time.Minute)
		for err := c.KillEtcd(ctx, n); err != nil; err = c.KillEtcd(ctx, n) {
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
		}
	}
	out.Reset()
	errb.Reset()
	if code := run(args, &out, &errb, dial); code != exitOK {
		c.LogTails(t, 30)
		t.Fatalf("restore: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "restored: snapshot_") || !strings.Contains(out.String(), ", revision ") {
		t.Errorf("output:\n%s", out.String())
	}
	if _, err := c.Kube.CoreV1().Namespaces().Get(ctx, "keep-me", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace not restored: %v", err)
	}
}
