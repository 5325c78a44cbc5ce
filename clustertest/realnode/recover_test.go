package realnode

import (
	"syscall"
	"testing"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// TestRecoversFromDeadProcess: a node whose process died without Close
// (here: containerd and the kubelet killed as Pdeathsig kills them, the
// lock dropped as the kernel drops it, a container still running under its
// shim) is undone by the next New, and the machine ends as it was before
// the first node.
func TestRecoversFromDeadProcess(t *testing.T) {
	b := SkipUnavailable(t)
	before, err := snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c := clustertest.Start(t, clustertest.Options{Masters: 1, Workers: -1})
	n, err := New(t.Context(), c, Options{Binaries: &b})
	if err != nil {
		t.Fatal(err)
	}
	// Leave a running container behind: the debug image's shell.
	if err := writeSleeper(n); err != nil {
		t.Fatal(err)
	}
	waitRunning(t, n, "sleeper")
	for _, p := range []*proc{n.kubelet, n.containerd} {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	n.lock.unlock()
	if len(n.shimPids()) == 0 {
		t.Fatal("no shim outlived containerd: the test would prove nothing")
	}

	n2 := Start(t, c, Options{Binaries: &b}) // recovers, then runs
	if err := n2.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if d := before.Diff(after); len(d) > 0 {
		t.Fatalf("the machine is not as it was:\n%v", d)
	}
}
