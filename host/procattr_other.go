//go:build !unix

package host

import (
	"io/fs"
	"os/exec"
)

// killProcessGroup leaves cmd to exec.CommandContext's default: kill the
// process itself on cancellation.
func killProcessGroup(cmd *exec.Cmd) {}

func isCrossDevice(err error) bool { return false }

func copyOwner(fsys fsys, name string, fi fs.FileInfo) {}

func isBusy(err error) bool { return false }

func onOtherDevice(fi, pfi fs.FileInfo) bool { return false }
