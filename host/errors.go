package host

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPath is wrapped (inside an *fs.PathError) by every operation
// given a host path that is not absolute, contains a NUL byte or has a ".."
// element. Host paths are absolute paths on the host; ".." is refused
// outright so that no path can climb out of a [Local] root.
var ErrInvalidPath = errors.New("invalid host path")

// ExitError is returned by Run when the command ran and exited non-zero.
// Typed operations of the remote hosts ([SSH], debugpod.Host) return it too
// when their shell command fails for a reason that has no better error
// (fs.ErrNotExist, fs.ErrExist); Argv is then the shell command line.
type ExitError struct {
	Host   string
	Argv   []string
	Code   int
	Stderr []byte
}

func (e *ExitError) Error() string {
	msg := strings.TrimSpace(string(e.Stderr))
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	return fmt.Sprintf("host %s: %s: exit status %d: %s", e.Host, strings.Join(e.Argv, " "), e.Code, msg)
}
