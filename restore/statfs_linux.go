package restore

import (
	"fmt"
	"io/fs"
	"syscall"
)

// statfs measures the space available to unprivileged users on the local
// filesystem holding path, and names that filesystem.
func statfs(path string) (FreeSpace, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return FreeSpace{}, &fs.PathError{Op: "statfs", Path: path, Err: err}
	}
	return FreeSpace{Bytes: st.Bavail * uint64(st.Bsize), Filesystem: fmt.Sprintf("%x:%x", st.Fsid.X__val[0], st.Fsid.X__val[1])}, nil
}
