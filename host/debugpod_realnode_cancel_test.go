package host_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/clustertest/realnode"
	"github.com/lifeboat-dev/lifeboat/host/debugpod"
)

// TestDebugPodCancelStopsCommandOnRealNode: a Run whose ctx ends stops the
// command on the host, whenever it ends -- before the command reported
// its PID or after, with or without children -- and well before the
// command would have ended by itself. A real kubelet does not kill an
// exec'd process when its stream closes.
func TestDebugPodCancelStopsCommandOnRealNode(t *testing.T) {
	b := realnode.SkipUnavailable(t)
	c := clustertest.Start(t, clustertest.Options{Masters: 1, Workers: -1})
	n := realnode.Start(t, c, realnode.Options{Binaries: &b})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	d, err := debugpod.New(ctx, c.Kube, c.RESTConfig, debugpod.Config{
		Node: n.Name(), Image: realnode.DebugImage, PollInterval: 100 * time.Millisecond, StartTimeout: 3 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.WithoutCancel(ctx))
	// The handshake's files of this test's runs (host/shellcancel.go): a
	// run that never started leaves its tombstone.
	start := time.Now()
	t.Cleanup(func() { removeRunFilesSince(t, start) })

	for i, tc := range []struct {
		name  string
		after time.Duration
		argv  func(mark string) []string
	}{
		{"at once", 0, func(m string) []string { return []string{"sleep", m} }},
		// Around the time the PID report arrives: cancelled before it,
		// the command may start only after the stream closed.
		{"after 20ms", 20 * time.Millisecond, func(m string) []string { return []string{"sleep", m} }},
		{"after 80ms", 80 * time.Millisecond, func(m string) []string { return []string{"sleep", m} }},
		{"after 150ms", 150 * time.Millisecond, func(m string) []string { return []string{"sleep", m} }},
		{"after 300ms", 300 * time.Millisecond, func(m string) []string { return []string{"sleep", m} }},
		{"after the PID report", 3 * time.Second, func(m string) []string { return []string{"sleep", m} }},
		{"grandchild", 3 * time.Second, func(m string) []string { return []string{"sh", "-c", "(sleep " + m + "; true) | cat"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark := fmt.Sprintf("%d.%d7", 600+i, time.Now().UnixNano()%1000) // an argument no other process uses
			t.Logf("cancel at %s", time.Now().Add(tc.after).Format(time.RFC3339Nano))
			cctx, ccancel := context.WithCancel(ctx)
			time.AfterFunc(tc.after, ccancel)
			if _, err := d.Run(cctx, nil, tc.argv(mark)...); !errors.Is(err, context.Canceled) {
				t.Fatalf("Run = %v, want context.Canceled", err)
			}
			// The command would run for ten minutes: it must be gone long
			// before (a generous bound for a loaded machine).
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				out, _ := exec.Command("pgrep", "-f", "sleep "+mark).Output()
				if len(bytes.TrimSpace(out)) == 0 {
					return
				}
				if time.Now().After(deadline) {
					t.Logf("survivors:\n%s", describeProcs(bytes.Fields(out)))
					_ = exec.Command("pkill", "-f", "sleep "+mark).Run()
					t.Fatalf("cancelled command still running after a minute: pids %s", bytes.TrimSpace(out))
				}
			}
		})
	}
}

// describeProcs describes each process and its ancestors from /proc
// (command line, state, LIFEBOAT_RUN, start time in clock ticks since
// boot), then the tombstones, for a failure message.
func describeProcs(pids [][]byte) string {
	var b strings.Builder
	for _, p := range pids {
		for pid := string(p); pid != "" && pid != "0"; {
			cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			env, _ := os.ReadFile("/proc/" + pid + "/environ")
			stat, _ := os.ReadFile("/proc/" + pid + "/stat")
			run := ""
			for _, kv := range bytes.Split(env, []byte{0}) {
				if bytes.HasPrefix(kv, []byte("LIFEBOAT_RUN=")) {
					run = string(kv)
				}
			}
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			state, ppid, start := "?", "", "?"
			if len(f) > 19 {
				state, ppid, start = f[0], f[1], f[19]
			}
			fmt.Fprintf(&b, "  pid %s ppid %s state %s start %s %s cmd %q\n", pid, ppid, state, start, run, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}))
			if pid == "1" {
				break
			}
			pid = ppid
		}
	}
	tombs, _ := filepath.Glob("/tmp/*.cancelled")
	for _, tb := range tombs {
		if fi, err := os.Stat(tb); err == nil {
			fmt.Fprintf(&b, "  tombstone %s %s\n", tb, fi.ModTime().Format(time.RFC3339Nano))
		}
	}
	up, _ := os.ReadFile("/proc/uptime")
	fmt.Fprintf(&b, "  now %s uptime %s", time.Now().Format(time.RFC3339Nano), up)
	return b.String()
}

// removeRunFilesSince removes the shell hosts' handshake files
// (/tmp/lifeboat-run-*.cancelled and .pid) written since start.
func removeRunFilesSince(t *testing.T, start time.Time) {
	t.Helper()
	for _, pat := range []string{"/tmp/lifeboat-run-*.cancelled", "/tmp/lifeboat-run-*.pid"} {
		fs, _ := filepath.Glob(pat)
		for _, f := range fs {
			if fi, err := os.Stat(f); err == nil && !fi.ModTime().Before(start) {
				if err := os.Remove(f); err == nil {
					t.Logf("removed %s", f)
				}
			}
		}
	}
}
