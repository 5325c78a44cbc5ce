package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// Starting a cluster is CPU-bound for its first seconds (kube-apiserver's
// start and the CRDs, etcd's first writes: about 16 CPU-seconds), and
// clusters start side by side: parallel tests in one process, and
// "go test -p N" runs several test processes at once. Started all at once
// on a small machine, they share the cores so thinly that none answers
// /readyz within its deadline, although each alone would start in seconds.
// So a start takes one of a few machine-wide start slots first: an
// exclusive lock on one of startSlotCount() files in a directory shared by
// every process of the machine (os.TempDir()/lifeboat-clustertest-start).
// The slot is held only while New starts the cluster; the kernel drops the
// lock when the process dies, so a crashed test holds no slot.

// startSlotPoll is how often a start waiting for a slot tries again.
const startSlotPoll = 100 * time.Millisecond

// startSlotCount is how many clusters may start at once on this machine:
// one per core, at least two.
func startSlotCount() int { return max(2, runtime.NumCPU()) }

// startSlotDir is where the slot files live.
func startSlotDir() string { return filepath.Join(os.TempDir(), "lifeboat-clustertest-start") }

// acquireStartSlot waits for one of the n slots of dir to be free, or for
// ctx to end, and returns the function that frees it.
func acquireStartSlot(ctx context.Context, dir string, n int) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("clustertest: start slot: %w", err)
	}
	t := time.NewTicker(startSlotPoll)
	defer t.Stop()
	for {
		for i := range n {
			f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(i)), os.O_CREATE|os.O_RDWR, 0o666)
			if err != nil {
				return nil, fmt.Errorf("clustertest: start slot %d: %w", i, err)
			}
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil {
				return func() { f.Close() }, nil // closing drops the lock
			}
			f.Close()
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("clustertest: start slot %d: %w", i, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("clustertest: waiting for one of %d start slots (%s): %w", n, dir, ctx.Err())
		case <-t.C:
		}
	}
}
