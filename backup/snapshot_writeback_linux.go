package backup

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks Linux to write [off, off+n) of f to disk
// (sync_file_range(2) SYNC_FILE_RANGE_WRITE, which returns at once); with
// wait it also waits for that range to be written and then drops it from
// the page cache (POSIX_FADV_DONTNEED), as a streaming writer does. It
// makes no durability promise: the file's fsync does.
var startWriteback = func(f *os.File, off, n int64, wait bool) error {
	fd := int(f.Fd())
	flags := unix.SYNC_FILE_RANGE_WRITE
	if wait {
		flags |= unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WAIT_AFTER
	}
	if err := unix.SyncFileRange(fd, off, n, flags); err != nil {
		return err
	}
	if wait {
		return unix.Fadvise(fd, off, n, unix.FADV_DONTNEED)
	}
	return nil
}
