package backup

import (
	"io"
	"os"
)

// writebackChunk is how many written bytes make one range handed to the
// kernel's writeback while a snapshot is still arriving.
const writebackChunk = 8 << 20

// writebackWriter writes a large file the way a streaming writer should
// (where the kernel supports it, see startWriteback): every
// writebackChunk bytes it starts the writeback of the range just written,
// and waits for the range before it to be on disk, then drops that range
// from the page cache.
//
// Without it a snapshot smaller than the kernel's dirty thresholds (10 %
// of the available memory by default: gigabytes on a master) stays dirty
// in the page cache until the final fsync, which then writes the whole
// database to disk with the transfer already over: on a 1 GiB database
// about a third of the time of the transfer itself, spent after it. With
// it the disk writes while the member sends, the final fsync finds little
// left, at most two chunks are dirty at a time, and the backup does not
// push the member's own database out of the page cache.
//
// Hints are best effort: a failing hint (a file system without support)
// turns them off, and the data's durability is still the final fsync's.
type writebackWriter struct {
	f        *os.File
	hint     func(f *os.File, off, n int64, wait bool) error
	off      int64 // bytes written
	started  int64 // start of the range not yet handed to writeback
	prev     int64 // start of the range handed to writeback last; -1 none
	disabled bool  // hints failed: plain writes
}

// newWritebackWriter wraps f; where the platform has no writeback hints
// it returns f itself.
func newWritebackWriter(f *os.File) io.Writer {
	if startWriteback == nil {
		return f
	}
	return &writebackWriter{f: f, hint: startWriteback, prev: -1}
}

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if err != nil || w.disabled || w.off-w.started < writebackChunk {
		return n, err
	}
	// Start writing back [started, off); then wait for the range before
	// it, whose writeback was started a chunk ago.
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
