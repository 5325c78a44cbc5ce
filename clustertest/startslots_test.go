package clustertest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestStartSlotsBoundConcurrentStarts: with every slot taken, a start
// waits until its ctx ends and says so; once a slot is freed, the next
// start takes it. The slots are file locks, so they bound starts across
// processes as well as within one.
func TestStartSlotsBoundConcurrentStarts(t *testing.T) {
	dir := t.TempDir()
	const n = 2
	var frees []func()
	for i := range n {
		free, err := acquireStartSlot(t.Context(), dir, n)
		if err != nil {
			t.Fatalf("slot %d of %d: %v", i, n, err)
		}
		frees = append(frees, free)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if free, err := acquireStartSlot(ctx, dir, n); !errors.Is(err, context.DeadlineExceeded) {
		if free != nil {
			free()
		}
		t.Fatalf("a start beyond %d slots: %v, want it to wait until its ctx ends (context.DeadlineExceeded)", n, err)
	}

	got := make(chan error, 1)
	go func() {
		free, err := acquireStartSlot(t.Context(), dir, n)
		if err == nil {
			free()
		}
		got <- err
	}()
	frees[0]()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("a start after a slot was freed: %v", err)
		}
	case <-time.After(time.Minute): // catches a hang only
		t.Fatal("a start did not take the freed slot")
	}
	frees[1]()
}

func TestStartSlotCount(t *testing.T) {
	if n := startSlotCount(); n < 2 {
		t.Fatalf("startSlotCount() = %d, want at least 2", n)
	}
}
