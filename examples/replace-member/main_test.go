package main

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	operatorv1 "github.com/openshift/api/operator/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func runWith(args ...string) int {
	flag.CommandLine = flag.NewFlagSet("replace-member", flag.ContinueOnError)
	os.Args = append([]string{"replace-member"}, args...)
	return run()
}

// On the simulated cluster: nothing to replace (exit 2); a stopped master
// listed with -dry-run (exit 0, nothing changed) and then replaced (exit 0).
func TestReplaceMemberProgram(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c := clustertest.Start(t, clustertest.Options{Workers: -1})
	tls := c.EtcdTLS()
	args := []string{"-kubeconfig", c.KubeconfigPath, "-etcd-endpoints", strings.Join(c.EtcdEndpoints(), ","),
		"-etcd-cacert", tls.CAFile, "-etcd-cert", tls.CertFile, "-etcd-key", tls.KeyFile,
		"-skip-backup-check", "-save-dir", t.TempDir(), "-interval", "200ms", "-health-timeout", "2s"}
	if code := runWith(args...); code != 2 {
		t.Fatalf("healthy cluster: exit %d, want 2", code)
	}
	victim := c.Masters()[2]
	machine := c.MachineName(victim)
	if err := c.StopMachine(ctx, victim); err != nil {
		t.Fatal(err)
	}
	// Wait until the operator's condition names the member.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		e, err := c.Operator.OperatorV1().Etcds().Get(ctx, "cluster", metav1GetOptions)
		if err == nil && strings.Contains(conditionMessage(e.Status.Conditions), victim) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := runWith(append(args, "-dry-run")...); code != 0 {
		t.Fatalf("dry run: exit %d, want 0", code)
	}
	if _, err := c.Machine.MachineV1beta1().Machines("openshift-machine-api").Get(ctx, machine, metav1GetOptions); err != nil {
		t.Fatalf("the dry run touched machine %s: %v", machine, err)
	}
	if code := runWith(args...); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if code := runWith(args...); code != 2 {
		t.Fatalf("after the replacement: exit %d, want 2", code)
	}
}

var metav1GetOptions = metav1.GetOptions{}

func conditionMessage(cs []operatorv1.OperatorCondition) string {
	for _, c := range cs {
		if c.Type == "EtcdMembersAvailable" {
			return c.Message
		}
	}
	return ""
}
