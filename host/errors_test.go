package host

import (
	"context"
	"io"
	"io/fs"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrInvalidPath": ErrInvalidPath,
		"ErrIncomplete":  ErrIncomplete,
	}
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "ExitError", Err: &ExitError{Host: "master-0", Argv: []string{"false"}, Code: 1}, As: errtest.As[*ExitError]},
		{Name: "HostKeyError", Err: &HostKeyError{Addr: "10.0.0.1:22", Fingerprint: "SHA256:x", Err: cause}, As: errtest.As[*HostKeyError], Kinds: []error{cause}},
		{Name: "IncompleteError", Err: &IncompleteError{Host: "master-0", Op: "run"}, As: errtest.As[*IncompleteError], Kinds: []error{ErrIncomplete}, Not: []error{ErrInvalidPath}},
		{Name: "IncompleteError completed with another code", Err: &IncompleteError{Host: "master-0", Op: "run", Completed: true, LineCode: 1}, As: errtest.As[*IncompleteError], Kinds: []error{ErrIncomplete}},
	})
}

// TestOptionsErrorNamesTheOption: the constructors refuse missing settings
// before any connection with a *lifeboat.OptionsError naming the field or
// argument, or every field of a combination.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	call := func(_ any, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "ssh without address", Err: call(NewSSH(t.Context(), SSHConfig{})), Want: "host.SSHConfig.Addr"},
		{Name: "ssh without host key check", Err: call(NewSSH(t.Context(), SSHConfig{Addr: "192.0.2.1"})), Want: "host.SSHConfig.HostKeyCallback"},
		{Name: "ssh without key", Err: call(NewSSH(t.Context(), SSHConfig{Addr: "192.0.2.1", HostKeyCallback: ssh.InsecureIgnoreHostKey()})),
			Want: "", Fields: []string{"host.SSHConfig.Signer", "host.SSHConfig.KeyFile"}},
		{Name: "shell without name", Err: call(NewShell("", func(context.Context, string, io.Reader, io.Writer, io.Writer) (int, error) { return 0, nil }, nil)), Want: "host.NewShell name"},
		{Name: "shell without runner", Err: call(NewShell("master-0", nil, nil)), Want: "host.NewShell run"},
	})
}
