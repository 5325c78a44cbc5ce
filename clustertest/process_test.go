package clustertest

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTestProcess runs a shell script as a process and kills it at cleanup.
func startTestProcess(t *testing.T, script string) (*process, string) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "p.log")
	p, err := startProcess("test", []string{"/bin/sh", "-c", script}, []string{"LIFEBOAT_TEST_VAR=hello"}, logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.kill() })
	return p, logPath
}

func waitExited(t *testing.T, p *process) {
	t.Helper()
	select {
	case <-p.exited():
	case <-time.After(10 * time.Second):
		t.Fatal("process did not exit")
	}
}

// waitFile waits for a file the script writes when it is ready.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err == nil && len(data) > 0 && strings.HasSuffix(string(data), "\n") {
			return data
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie waiting for its
// (re)parent to reap it.
func alive(pid int) bool {
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

func TestProcessExitCodeAndLog(t *testing.T) {
	p, logPath := startTestProcess(t, `echo "out $LIFEBOAT_TEST_VAR"; echo err >&2; exit 3`)
	if p.pid() <= 0 {
		t.Fatalf("pid %d", p.pid())
	}
	waitExited(t, p)
	if p.running() || p.exitCode() != 3 {
		t.Fatalf("running=%v exitCode=%d, want exited with 3", p.running(), p.exitCode())
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); !strings.Contains(got, "out hello\n") || !strings.Contains(got, "err\n") {
		t.Fatalf("log = %q", got)
	}

	// A second process on the same log appends, and its offset starts after
	// the first one's output.
	p2, err := startProcess("again", []string{"/bin/sh", "-c", "echo second"}, nil, logPath)
	if err != nil {
		t.Fatal(err)
	}
	waitExited(t, p2)
	if p2.exitCode() != 0 || p2.logOffset != int64(len(data)) {
		t.Fatalf("exitCode=%d offset=%d (first log %d bytes)", p2.exitCode(), p2.logOffset, len(data))
	}
	if got := exitSummary(logPath, p2.logOffset); got != "second" {
		t.Fatalf("exitSummary = %q, want only the second run's output", got)
	}
}

func TestProcessKillReachesGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	// The shell forks a child that ignores SIGTERM; kill must take both.
	p, _ := startTestProcess(t, `sh -c 'trap "" TERM; sleep 60' & echo $! > `+pidFile+`; wait`)
	child, err := strconv.Atoi(strings.TrimSpace(string(waitFile(t, pidFile))))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.kill(); err != nil {
		t.Fatal(err)
	}
	if p.running() || p.exitCode() != -1 {
		t.Fatalf("running=%v exitCode=%d after kill", p.running(), p.exitCode())
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the killed process is alive", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.kill(); err != nil {
		t.Fatalf("second kill: %v", err)
	}
}

func TestProcessStop(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		timeout  time.Duration
		wantCode int
		maxTime  time.Duration
	}{
		{
			name:     "exits on SIGTERM",
			script:   `trap 'exit 7' TERM; echo > READY; while :; do sleep 0.05; done`,
			timeout:  10 * time.Second,
			wantCode: 7,
			maxTime:  5 * time.Second,
		},
		{
			name:     "ignores SIGTERM, killed after timeout",
			script:   `trap '' TERM; echo > READY; while :; do sleep 0.05; done`,
			timeout:  300 * time.Millisecond,
			wantCode: -1,
			maxTime:  5 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ready := filepath.Join(dir, "ready")
			p, _ := startTestProcess(t, strings.ReplaceAll(tt.script, "READY", ready))
			waitFile(t, ready)
			start := time.Now()
			if err := p.stop(tt.timeout); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if p.running() || p.exitCode() != tt.wantCode {
				t.Fatalf("running=%v exitCode=%d, want %d", p.running(), p.exitCode(), tt.wantCode)
			}
			if tt.wantCode == -1 && took < tt.timeout {
				t.Errorf("killed after %v, before the %v timeout", took, tt.timeout)
			}
			if took > tt.maxTime {
				t.Errorf("stop took %v", took)
			}
		})
	}
}

func TestStartProcessErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := startProcess("x", nil, nil, filepath.Join(dir, "log")); err == nil {
		t.Error("empty argv accepted")
	}
	if _, err := startProcess("x", []string{filepath.Join(dir, "missing")}, nil, filepath.Join(dir, "log")); err == nil {
		t.Error("missing binary accepted")
	}
	if _, err := startProcess("x", []string{"/bin/true"}, nil, filepath.Join(dir, "no", "such", "log")); err == nil {
		t.Error("unwritable log accepted")
	}
}

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d not bindable: %v", port, err)
		}
		defer l.Close()
		if seen[port] {
			t.Fatalf("port %d returned twice while bound", port)
		}
		seen[port] = true
	}
}

// TestProcessDiesWithTestBinary runs this test binary as a helper that starts
// a long-lived child and then exits abruptly (as a test binary killed by a
// timeout would): the child must not outlive it.
func TestProcessDiesWithTestBinary(t *testing.T) {
	if pidFile := os.Getenv("LIFEBOAT_SPAWN_HELPER_PIDFILE"); pidFile != "" {
		p, err := startProcess("orphan", []string{"/bin/sleep", "60"}, nil, pidFile+".log")
		if err != nil {
			os.Exit(3)
		}
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(p.pid())+"\n"), 0o600); err != nil {
			os.Exit(4)
		}
		os.Exit(0)
	}
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestProcessDiesWithTestBinary$")
	cmd.Env = append(os.Environ(), "LIFEBOAT_SPAWN_HELPER_PIDFILE="+pidFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v: %s", err, out)
	}
	child, err := strconv.Atoi(strings.TrimSpace(string(waitFile(t, pidFile))))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) {
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("child %d outlived the test binary that started it", child)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
