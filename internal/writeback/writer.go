package writeback

import (
	"io"
	"os"
	"sync"
)

// Chunk is how many written bytes make one range handed to the kernel's
// writeback.
const Chunk = 8 << 20

// Hint asks the kernel to start writing [off, off+n) of f to disk; with
// wait it also waits for that range and drops it from the page cache.
type Hint func(f *os.File, off, n int64, wait bool) error

var (
	mu   sync.RWMutex
	hint = platformHint // nil where the platform has none
)

// SetHintForTesting replaces the platform's hint until the returned
// function is called; for tests that observe the hints.
func SetHintForTesting(h Hint) (restore func()) {
	mu.Lock()
	saved := hint
	hint = h
	mu.Unlock()
	return func() {
		mu.Lock()
		hint = saved
		mu.Unlock()
	}
}

// Writer is an io.Writer onto a file that hands every Chunk written to
// the kernel's writeback (see the package doc). Hints are best effort: a
// failing hint (a file system without support) turns them off for the
// rest of the file, and the writes go on plainly.
type Writer struct {
	f        *os.File
	hint     Hint
	off      int64 // bytes written
	started  int64 // start of the range not yet handed to writeback
	prev     int64 // start of the range handed to writeback last; -1 none
	disabled bool  // hints failed or none: plain writes
}

// NewWriter wraps f, whose writes start at offset 0. Where the platform
// has no writeback hint it writes plainly.
func NewWriter(f *os.File) *Writer {
	mu.RLock()
	h := hint
	mu.RUnlock()
	return &Writer{f: f, hint: h, prev: -1, disabled: h == nil}
}

// Hinting reports whether the writer still hands ranges to writeback
// (false where the platform has no hint or a hint failed).
func (w *Writer) Hinting() bool { return !w.disabled }

// Write writes p to the file, then, once a Chunk or more is unhinted,
// starts the writeback of that range and waits for the one before it.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if err != nil || w.disabled || w.off-w.started < Chunk {
		return n, err
	}
	if herr := w.hint(w.f, w.started, w.off-w.started, false); herr != nil {
		w.disabled = true
		return n, nil
	}
	if w.prev >= 0 {
		if herr := w.hint(w.f, w.prev, w.started-w.prev, true); herr != nil {
			w.disabled = true
			return n, nil
		}
	}
	w.prev, w.started = w.started, w.off
	return n, nil
}

var _ io.Writer = (*Writer)(nil)
