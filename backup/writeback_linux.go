package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how much written data may wait before its write-back
// to disk is started.
const writebackChunk = 8 << 20

// writeback starts the kernel's write-back of a file's dirty pages every
// writebackChunk bytes (sync_file_range SYNC_FILE_RANGE_WRITE: it queues
// the I/O and returns), so disk writes overlap the transfer and the final
// fsync finds little left to do. Errors are ignored: fsync reports them.
type writeback struct {
	fd     int
	synced int64
}

func newWriteback(f *os.File) *writeback { return &writeback{fd: int(f.Fd())} }

func (w *writeback) written(n int64) {
	if n-w.synced < writebackChunk {
		return
	}
	unix.SyncFileRange(w.fd, w.synced, n-w.synced, unix.SYNC_FILE_RANGE_WRITE)
	w.synced = n
}
