//go:build unix

package host

import (
	"errors"
	"io/fs"
	"os/exec"
	"syscall"
)

// killProcessGroup starts cmd in its own process group and makes context
// cancellation kill the whole group, so a shell's children die with it.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

func isCrossDevice(err error) bool {
	return errors.Is(err, syscall.EXDEV)
}

// copyOwner gives name the owner of fi, best effort (it fails when not
// running as root, and then the copy keeps the current user's ownership,
// as mv(1) does).
func copyOwner(fsys fsys, name string, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		_ = fsys.Lchown(name, int(st.Uid), int(st.Gid))
	}
}

// isBusy reports EBUSY, what rename(2) answers for a mount point.
func isBusy(err error) bool { return errors.Is(err, syscall.EBUSY) }

// onOtherDevice reports whether fi (a directory) lives on another device
// than its parent pfi: it is the root of a mount.
func onOtherDevice(fi, pfi fs.FileInfo) bool {
	a, ok1 := fi.Sys().(*syscall.Stat_t)
	b, ok2 := pfi.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && a.Dev != b.Dev
}
