package realnode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/toolchain"
)

// machineLock is an exclusive flock on a file in the lifeboat cache
// directory: one real node per machine, across processes.
type machineLock struct{ f *os.File }

// lockMachine waits (polling, ctx honoured) until it holds the lock.
func lockMachine(ctx context.Context) (*machineLock, error) {
	dir, err := toolchain.CacheRoot()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("realnode: lock: %w", err)
	}
	p := filepath.Join(dir, "realnode.lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("realnode: lock: %w", err)
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &machineLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("realnode: lock %s: %w", p, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("realnode: waiting for another real node on this machine to close (lock %s): %w", p, ctx.Err())
		case <-t.C:
		}
	}
}

func (l *machineLock) unlock() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}
