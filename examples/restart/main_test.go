package main

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

func runWith(args ...string) int {
	flag.CommandLine = flag.NewFlagSet("restart", flag.ContinueOnError)
	os.Args = append([]string{"restart"}, args...)
	return run()
}

// On the simulated cluster: a master whose client certificate expired keeps
// the cluster from recovering when CSRs are left alone (exit 3); approving
// them recovers it (exit 0).
func TestRestartProgram(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := clustertest.Start(t, clustertest.Options{Workers: -1})
	m := c.Masters()[0]
	if err := c.ExpireNodeCertificates(ctx, m); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the node turns NotReady on the next ticks
	if code := runWith("-kubeconfig", c.KubeconfigPath, "-interval", "100ms", "-masters-timeout", "2s", "-skip-csr-approval"); code != 3 {
		t.Fatalf("CSRs left pending: exit %d, want 3", code)
	}
	if code := runWith("-kubeconfig", c.KubeconfigPath, "-interval", "200ms", "-masters-timeout", "1m", "-operators-timeout", "1m"); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
}
