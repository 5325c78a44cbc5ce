package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var markerRE = regexp.MustCompile(`LIFEBOAT_RUN=(` + runMarkerPrefix + `[0-9a-f]+);`)

// lateTransport is a loaded kubelet's exec: when ctx ends it returns at
// once, and the command line it was given starts only when start says so
// (before or after the stop line), with its standard error withheld (no
// PID report arrives). The stop line runs at once, like execTransport.
type lateTransport struct {
	t *testing.T
	// start runs the command line: it is given the line's process-starting
	// function and the channel closed when the stop line finished.
	start func(run func() *exec.Cmd, stopped <-chan struct{})

	mu      sync.Mutex
	marker  string
	stopped chan struct{}
	cmds    []*exec.Cmd
}

func (l *lateTransport) runLine(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if strings.Contains(line, stopDone) {
		code, err := execTransport{}.runLine(ctx, line, nil, stdout, stderr)
		close(l.stopped)
		return code, err
	}
	l.mu.Lock()
	if m := markerRE.FindStringSubmatch(line); m != nil {
		l.marker = m[1]
	}
	l.mu.Unlock()
	run := func() *exec.Cmd {
		cmd := exec.Command("sh", "-c", line)
		if err := cmd.Start(); err != nil {
			l.t.Errorf("starting the line: %v", err)
			return nil
		}
		l.mu.Lock()
		l.cmds = append(l.cmds, cmd)
		l.mu.Unlock()
		go cmd.Wait()
		return cmd
	}
	go l.start(run, l.stopped)
	<-ctx.Done()
	return -1, ctx.Err()
}

// waitGone waits until no process runs "sleep <mark>" (a generous bound
// for a loaded machine), killing survivors at the end.
func waitGone(t *testing.T, mark string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("pgrep", "-f", "sleep "+mark).Output()
		if len(bytes.TrimSpace(out)) == 0 {
			return
		}
		if time.Now().After(deadline) {
			_ = exec.Command("pkill", "-f", "sleep "+mark).Run()
			t.Fatalf("cancelled command still running: pids %s", bytes.TrimSpace(out))
		}
	}
}

// freezeAtPGID freezes the wrapper's group (SIGSTOP) as soon as its PGID
// file for marker exists (before, at or after its tombstone check), then
// thaws it (SIGCONT) once hold returns. Frozen for good it would stand
// for no real process, and its own command line matches waitGone's
// search; on a loaded machine the stop line may have finished before the
// PGID file was written, and the thawed wrapper must then find the
// tombstone. When the file never shows (the wrapper went past both flags
// between two looks) it does nothing: waitGone still checks the outcome.
// It calls no t method: the subtest may have ended already.
func freezeAtPGID(marker string, hold func()) {
	for i := 0; i < 2000; i++ {
		if b, err := os.ReadFile(pgidPath(marker)); err == nil && len(b) > 0 {
			var g int
			fmt.Sscan(string(b), &g)
			syscall.Kill(-g, syscall.SIGSTOP)
			hold()
			syscall.Kill(-g, syscall.SIGCONT)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// The handshake of a cancelled Run whose command starts late (after the
// cancel, with no PID report) over a local runner: the command never
// survives, whether it starts after the stop line finished (it finds the
// tombstone), before the stop line (the stopper finds its group in the
// PGID file), or frozen between its two flags (the stopper kills the
// frozen group), and the run's files are gone afterwards.
func TestShellCancelHandshake(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T, marker func() string) func(run func() *exec.Cmd, stopped <-chan struct{})
	}{
		{"starts after the stop", func(t *testing.T, _ func() string) func(func() *exec.Cmd, <-chan struct{}) {
			return func(run func() *exec.Cmd, stopped <-chan struct{}) {
				<-stopped
				if cmd := run(); cmd != nil {
					cmd.Process.Wait()
				}
			}
		}},
		{"starts before the stop", func(t *testing.T, _ func() string) func(func() *exec.Cmd, <-chan struct{}) {
			return func(run func() *exec.Cmd, stopped <-chan struct{}) { run() }
		}},
		{"frozen between its flags", func(t *testing.T, marker func() string) func(func() *exec.Cmd, <-chan struct{}) {
			return func(run func() *exec.Cmd, stopped <-chan struct{}) {
				run()
				// The freeze stands for a wrapper descheduled between its
				// flags, so it ends: once the stop line finished, the
				// group (if the stopper left it alive) runs on.
				freezeAtPGID(marker(), func() { <-stopped })
			}
		}},
		// The order the loaded machine produced: the stop line finished
		// (no PGID file yet: it left the tombstone) before the wrapper
		// wrote its PGID, and the wrapper was then descheduled between
		// its flags for a while.
		{"frozen between its flags after the stop", func(t *testing.T, marker func() string) func(func() *exec.Cmd, <-chan struct{}) {
			return func(run func() *exec.Cmd, stopped <-chan struct{}) {
				<-stopped
				run()
				freezeAtPGID(marker(), func() { time.Sleep(200 * time.Millisecond) })
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lt := &lateTransport{t: t, stopped: make(chan struct{})}
			lt.start = tc.start(t, func() string { lt.mu.Lock(); defer lt.mu.Unlock(); return lt.marker })
			h, err := NewShell("local", lt.runLine, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			mark := fmt.Sprintf("%d.%d3", 640+i, time.Now().UnixNano()%1000)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if _, err := h.Run(ctx, nil, "sleep", mark); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Run = %v, want context.DeadlineExceeded", err)
			}
			<-lt.stopped
			waitGone(t, mark)
			// The wrapper removes the tombstone it found, the stopper the
			// files of the group it stopped.
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				_, e1 := os.Stat(cancelledPath(lt.marker))
				_, e2 := os.Stat(pgidPath(lt.marker))
				if errors.Is(e1, os.ErrNotExist) && errors.Is(e2, os.ErrNotExist) {
					break
				}
				if time.Now().After(deadline) {
					os.Remove(cancelledPath(lt.marker))
					os.Remove(pgidPath(lt.marker))
					t.Fatalf("files of run %s left: %v, %v", lt.marker, e1, e2)
				}
			}
		})
	}
}

// lossyTransport runs the line and then loses the end of its stream, as a
// loaded kubelet's exec was seen to: code 0 and nothing at all, or the
// output without the last bytes of standard error.
type lossyTransport struct{ keep int }

func (l lossyTransport) runLine(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if l.keep < 0 {
		return 0, nil // the line never ran
	}
	var eb bytes.Buffer
	code, err := execTransport{}.runLine(ctx, line, stdin, stdout, &eb)
	b := eb.Bytes()
	if len(b) > l.keep {
		b = b[:len(b)-l.keep]
	}
	stderr.Write(b)
	return code, err
}

// A stream that ends without the line's completion record is a transport
// failure (*IncompleteError, ErrIncomplete) for Run and the typed
// operations alike, never a success.
func TestShellIncompleteStream(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/f", []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		keep int
	}{{"nothing came back", -1}, {"end of stderr lost", 5}} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewShell("local", lossyTransport{keep: tc.keep}.runLine, nil)
			if err != nil {
				t.Fatal(err)
			}
			ops := map[string]func() error{
				"Run":      func() error { _, err := h.Run(t.Context(), nil, "true"); return err },
				"ReadFile": func() error { _, err := h.ReadFile(t.Context(), dir+"/f"); return err },
				"Stat":     func() error { _, err := h.Stat(t.Context(), dir+"/f"); return err },
				"MkdirAll": func() error { return h.MkdirAll(t.Context(), dir+"/d", 0o700) },
			}
			for name, op := range ops {
				err := op()
				var ie *IncompleteError
				if !errors.Is(err, ErrIncomplete) || !errors.As(err, &ie) || ie.Host != "local" {
					t.Errorf("%s = %v, want *IncompleteError", name, err)
				}
			}
		})
	}
	// The same line with its whole stream is a success.
	h, _ := NewShell("local", lossyTransport{}.runLine, nil)
	if out, err := h.Run(t.Context(), nil, "sh", "-c", "echo out; echo err >&2"); err != nil || string(out) != "out\n" {
		t.Errorf("Run over the whole stream = %q, %v", out, err)
	}
}
