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

// ErrIncomplete is matched by *IncompleteError: the transport reported a
// shell line finished, but the line's completion record never arrived.
var ErrIncomplete = errors.New("the command's completion was not received")

// IncompleteError is returned by every operation of a shell-based host
// ([NewShell], [SSH], debugpod.Host) whose transport ended the line's
// stream without a failure, yet without the completion record the line
// writes as its last act (seen on a loaded kubelet: an exec stream ending
// with code 0 and no output at all). It is a transport failure, not the
// command's result: the command may not have run, may have run in part,
// or may have finished with its result lost. The host does not retry it
// (Run's command may not be idempotent); a caller may retry an idempotent
// operation (Stat, ReadFile, ReadDir, MkdirAll, WriteFile, Containers). It
// matches ErrIncomplete.
type IncompleteError struct {
	Host, Op string
	// Code is the exit code the transport reported.
	Code int
	// Completed: the record arrived, but with LineCode, not Code.
	Completed bool
	LineCode  int
	// Stderr is what arrived of the line's standard error (bounded).
	Stderr []byte
}

func (e *IncompleteError) Error() string {
	if e.Completed {
		return fmt.Sprintf("host %s: %s: %v: the transport reported exit code %d, the command %d", e.Host, e.Op, ErrIncomplete, e.Code, e.LineCode)
	}
	msg := strings.TrimSpace(string(e.Stderr))
	if len(msg) > 512 {
		msg = msg[:512] + "..."
	}
	return fmt.Sprintf("host %s: %s: %v: the stream ended (exit code %d) before the command said it finished: %s", e.Host, e.Op, ErrIncomplete, e.Code, msg)
}

// Is matches ErrIncomplete.
func (e *IncompleteError) Is(target error) bool { return target == ErrIncomplete }
