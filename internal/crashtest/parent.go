package crashtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Result is how a child ended.
type Result struct {
	// Killed: the child died of SIGKILL.
	Killed bool
	// Point is the kill point the child recorded ("" if it recorded none);
	// InStep is true when it names the step that was to be crashed in.
	Point  string
	InStep bool
	// Err is set when the child ended otherwise than with exit status 0
	// or its own kill: a failed plan, a timeout.
	Err error
	// Log is the file holding the child's output.
	Log     string
	Elapsed time.Duration
}

// Run runs a child with spec (name distinguishes its files in dir) and
// waits for it, at most timeout.
func Run(t testing.TB, spec Spec, dir, name string, timeout time.Duration) Result {
	t.Helper()
	spec.Marker = filepath.Join(dir, name+".killed")
	os.Remove(spec.Marker)
	res := Result{Log: filepath.Join(dir, name+".log")}
	p, err := spec.write(dir, name+".json")
	if err != nil {
		res.Err = err
		return res
	}
	out, err := os.Create(res.Log)
	if err != nil {
		res.Err = err
		return res
	}
	defer out.Close()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashHelper$", "-test.v", "-test.count=1", fmt.Sprintf("-test.timeout=%s", timeout+time.Minute))
	cmd.Env = append(os.Environ(), SpecEnv+"="+p)
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err = cmd.Run()
	res.Elapsed = time.Since(start)
	if b, rerr := os.ReadFile(spec.Marker); rerr == nil {
		step, point, _ := strings.Cut(strings.TrimSpace(string(b)), "\t")
		res.Point, res.InStep = point, step == spec.KillStep && spec.KillStep != ""
	}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.Err = fmt.Errorf("child %s: no end after %s: %w", name, timeout, ctx.Err())
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.Killed = true
			if res.Point == "" {
				res.Err = fmt.Errorf("child %s: killed by someone else", name)
			}
		} else {
			res.Err = fmt.Errorf("child %s: %w\n%s", name, err, Tail(res.Log, 40))
		}
	case err != nil:
		res.Err = fmt.Errorf("child %s: %w", name, err)
	}
	return res
}

// Tail returns the last n lines of the file at p.
func Tail(p string, n int) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
