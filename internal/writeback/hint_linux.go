package writeback

import (
	"os"

	"golang.org/x/sys/unix"
)

// platformHint is sync_file_range(2) with SYNC_FILE_RANGE_WRITE (it
// returns at once); with wait also SYNC_FILE_RANGE_WAIT_BEFORE|AFTER and
// then posix_fadvise(POSIX_FADV_DONTNEED) on the range. It makes no
// durability promise: the file's fsync does.
var platformHint Hint = func(f *os.File, off, n int64, wait bool) error {
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
