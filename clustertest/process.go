package clustertest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is a child process of the simulation (an etcd member, the
// kube-apiserver). It runs in its own process group so that kill and stop
// reach anything it forks, its stdout and stderr are appended to a log file,
// and it is sent SIGKILL if the test binary dies (Pdeathsig), so no child
// outlives the test that started it.
type process struct {
	name    string
	cmd     *exec.Cmd
	logFile *os.File
	// logOffset is the log file's size when the process started: what it
	// wrote starts there.
	logOffset int64
	done      chan struct{}

	mu   sync.Mutex
	code int   // exit code once done; -1 when killed by a signal
	err  error // Wait's error once done
}

// startProcess starts argv[0] with argv[1:] as a process named name (used in
// errors), with env appended to the test's environment, its output appended
// to logPath (created 0600 if missing).
func startProcess(name string, argv []string, env []string, logPath string) (*process, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("clustertest: starting %s: empty command line", name)
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("clustertest: starting %s: %w", name, err)
	}
	var offset int64
	if fi, err := logFile.Stat(); err == nil {
		offset = fi.Size()
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := startOnSpawnThread(cmd); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("clustertest: starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logFile: logFile, logOffset: offset, done: make(chan struct{}), code: -1}
	go p.wait()
	return p, nil
}

// Pdeathsig is delivered when the OS thread that forked the child ends, not
// only when the process does, and Go ends a thread when a goroutine locked to
// it exits. So children are forked from one goroutine locked to its thread for
// the life of the test binary: its thread never ends before the process.
var spawner struct {
	once sync.Once
	reqs chan func()
}

func startOnSpawnThread(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range spawner.reqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	spawner.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

func (p *process) wait() {
	err := p.cmd.Wait()
	p.logFile.Close()
	p.mu.Lock()
	p.err = err
	p.code = p.cmd.ProcessState.ExitCode()
	p.mu.Unlock()
	// Reap anything the process left behind in its group.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	close(p.done)
}

// pid is the process id (also the process group id).
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited is closed once the process has exited and been reaped.
func (p *process) exited() <-chan struct{} { return p.done }

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// exitCode is the exit status once the process has exited: -1 while it runs
// or when a signal ended it.
func (p *process) exitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.code
}

// kill sends SIGKILL to the process group and waits for the process to be
// reaped. Killing an exited process is not an error.
func (p *process) kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// stop sends SIGTERM to the process group and waits up to timeout for the
// process to exit, then sends SIGKILL. Stopping an exited process is not an
// error.
func (p *process) stop(timeout time.Duration) error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return p.kill()
	}
}

func (p *process) signal(sig syscall.Signal) error {
	if !p.running() {
		return nil
	}
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("clustertest: signalling %s (pid %d): %w", p.name, p.pid(), err)
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another
// process may take it before the caller binds it; callers that start servers
// retry with a new port when a server fails to listen.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("clustertest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// exitSummary picks the lines that say why a process exited from its log,
// reading what it wrote from offset on: its fatal or panic lines, else lines
// mentioning an error, else its first lines (a usage message starts with the
// complaint).
func exitSummary(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	const maxBytes = 256 << 10
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > maxBytes {
		offset = fi.Size() - maxBytes
	}
	data, err := io.ReadAll(io.NewSectionReader(f, offset, maxBytes))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	pick := func(match func(string) bool) []string {
		var out []string
		for _, l := range lines {
			if match(l) {
				out = append(out, strings.TrimSpace(l))
			}
		}
		if len(out) > 3 {
			out = out[len(out)-3:]
		}
		return out
	}
	out := pick(func(l string) bool {
		return strings.Contains(l, `"level":"fatal"`) || strings.Contains(l, `"level":"panic"`) || strings.HasPrefix(l, "panic:")
	})
	if len(out) == 0 {
		out = pick(func(l string) bool { return strings.Contains(strings.ToLower(l), "error") })
	}
	if len(out) == 0 {
		out = lines[:min(3, len(lines))]
	}
	return strings.Join(out, " | ")
}

// tailFile returns the last n lines of a file (or why it cannot be read).
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	const maxBytes = 64 << 10
	if len(data) > maxBytes {
		data = data[len(data)-maxBytes:]
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
