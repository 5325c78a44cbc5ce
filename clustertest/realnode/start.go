package realnode

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// required reports whether LIFEBOAT_REQUIRE_REALNODE=1 asks for the real
// node tier (CI sets it once the packages are installed).
func required() bool { return os.Getenv(envRequire) == "1" }

// SkipUnavailable skips t, naming what is missing, when this machine
// cannot run a real node -- or fails it when LIFEBOAT_REQUIRE_REALNODE=1. It returns the
// binaries otherwise. Call it before starting a cluster so that a machine
// without the tier pays nothing.
func SkipUnavailable(t testing.TB) Binaries {
	t.Helper()
	b, err := findBinaries()
	if err != nil {
		if required() {
			t.Fatalf("%v (%s=1)", err, envRequire)
		}
		t.Skipf("%v (set %s=1 to fail instead)", err, envRequire)
	}
	return b
}

// Start starts a node for a test with New (skipping or failing as
// SkipUnavailable does) and registers Close with t.Cleanup: a Close that
// fails, or leaves the machine other than it was (ErrNotRestored), fails
// the test. When the test failed, the tails of containerd's and the
// kubelet's logs are written to its log first.
func Start(t testing.TB, c *clustertest.Cluster, opts Options) *Node {
	t.Helper()
	if opts.Binaries == nil {
		b := SkipUnavailable(t)
		opts.Binaries = &b
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	n, err := New(ctx, c, opts)
	if err != nil {
		if errors.Is(err, ErrUnavailable) && !required() {
			t.Skipf("%v (set %s=1 to fail instead)", err, envRequire)
		}
		t.Fatalf("starting a real node: %v", err)
	}
	t.Logf("real node %s ready: containerd %v, images %v, node Ready %v after the kubelet started; %v in all",
		n.Name(), n.timings.Containerd.Round(time.Millisecond), n.timings.Images.Round(time.Millisecond),
		n.timings.NodeReady.Round(time.Millisecond), n.timings.Total.Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("real node logs:\n%s", n.LogTails(40))
		}
		if err := n.Close(); err != nil {
			t.Errorf("closing the real node: %v", err)
		}
	})
	return n
}
