package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/safego"
)

// Containers lists running containers through the Runtime, or
// "crictl ps --name <name> -o json" when there is none.
func (l *Local) Containers(ctx context.Context, name string) ([]Container, error) {
	if l.runtime != nil {
		return l.runtime.Containers(ctx, name)
	}
	out, err := l.Run(ctx, nil, crictlArgv(name)...)
	if err != nil {
		return nil, err
	}
	cs, err := parseCrictlPS(out)
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", l.name, err)
	}
	return cs, nil
}

// RestartKubelet restarts the kubelet through the Runtime, or runs
// "systemctl restart kubelet.service" when there is none.
func (l *Local) RestartKubelet(ctx context.Context) error {
	if l.runtime != nil {
		return l.runtime.RestartKubelet(ctx)
	}
	_, err := l.Run(ctx, nil, restartKubeletArgv...)
	return err
}

// Shutdown halts the host through the Runtime, or runs
// "shutdown -h +<minutes>" (delay rounded up to whole minutes, at least
// one, as the runbook's "shutdown -h 1") when there is none.
func (l *Local) Shutdown(ctx context.Context, delay time.Duration) error {
	if l.runtime != nil {
		return l.runtime.Shutdown(ctx, delay)
	}
	_, err := l.Run(ctx, nil, shutdownArgv(delay)...)
	return err
}

// Run runs argv on this machine, as the user running this process, with
// stdin (nil for none), and returns its standard output. A non-zero exit is
// an *ExitError with the standard error; when ctx is cancelled the process
// group is killed and the error wraps ctx.Err(). A panic of stdin's Read
// (os/exec reads it on a goroutine of its own) is returned as a
// *lifeboat.PanicError (lifeboat.ErrPanicked).
func (l *Local) Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("host %s: run: empty command", l.name)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("host %s: run %s: %w", l.name, argv[0], err)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin
	if _, isFile := stdin.(*os.File); stdin != nil && !isFile {
		// os/exec copies a reader on a goroutine of its own: its panic
		// there is the copy's error, returned by Run.
		cmd.Stdin = safego.Reader("host "+l.name+": run "+argv[0]+": reading its input", stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	killProcessGroup(cmd)
	// Children that keep the output pipes open must not hold Run forever
	// after the command was killed.
	cmd.WaitDelay = 2 * time.Second
	l.logger().Debug("run", "argv", argv)
	err := cmd.Run()
	if ctxErr := ctx.Err(); ctxErr != nil && err != nil {
		return stdout.Bytes(), fmt.Errorf("host %s: run %s: %w", l.name, argv[0], ctxErr)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stdout.Bytes(), &ExitError{Host: l.name, Argv: argv, Code: ee.ExitCode(), Stderr: stderr.Bytes()}
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("host %s: run %s: %w", l.name, argv[0], err)
	}
	return stdout.Bytes(), nil
}
