package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

func runWith(args ...string) int {
	flag.CommandLine = flag.NewFlagSet("shutdown", flag.ContinueOnError)
	os.Args = append([]string{"shutdown"}, args...)
	return run()
}

// The program's refusals and dry run on the simulated cluster; the SSH
// transport itself is tested in package host against sshd.
func TestShutdownProgram(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Workers: -1})
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := runWith("-kubeconfig", c.KubeconfigPath, "-known-hosts", known); code != 2 {
		t.Errorf("without backup: exit %d, want 2", code)
	}
	if code := runWith("-kubeconfig", c.KubeconfigPath, "-known-hosts", known, "-backup-dir", t.TempDir()); code != 2 {
		t.Errorf("with an empty backup dir: exit %d, want 2", code)
	}
	if code := runWith("-kubeconfig", c.KubeconfigPath, "-known-hosts", known, "-override", "test", "-dry-run"); code != 0 {
		t.Errorf("dry run: exit %d, want 0", code)
	}
	// Not dry run: the simulated nodes have no SSH server behind their
	// names, and known_hosts is empty, so every node fails: exit 3.
	if code := runWith("-kubeconfig", c.KubeconfigPath, "-known-hosts", known, "-override", "test", "-ssh-key", filepath.Join(t.TempDir(), "none")); code != 3 {
		t.Errorf("unreachable hosts: exit %d, want 3", code)
	}
	for _, n := range c.Masters() {
		if !c.Host(n).Powered() {
			t.Errorf("%s was powered off", n)
		}
	}
}
