package clustertest

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

	clientv3 "go.etcd.io/etcd/client/v3"
)

// requireEtcd skips when the etcd binary has not been built (hack/tools.sh).
func requireEtcd(t *testing.T) {
	t.Helper()
	b, _ := FindBinaries()
	if err := checkExecutable(b.Etcd); err != nil {
		t.Skipf("etcd binary missing (%s: %v); run hack/tools.sh", b.Etcd, err)
	}
}

func putGet(t *testing.T, ctx context.Context, cl *clientv3.Client, key, val string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cl.Put(ctx, key, val); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	resp, err := cl.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != val {
		t.Fatalf("get %s = %v, want %q", key, resp.Kvs, val)
	}
}

// memberGet reads key through one member only, linearizably.
func memberGet(t *testing.T, ctx context.Context, c *EtcdCluster, m *EtcdMember, key string) string {
	t.Helper()
	cl, err := newEtcdClient([]string{m.ClientURL}, c.ClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cl.Get(ctx, key)
	if err != nil {
		t.Fatalf("get %s from %s: %v", key, m.Name, err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("get %s from %s: %d keys", key, m.Name, len(resp.Kvs))
	}
	return string(resp.Kvs[0].Value)
}

func TestStartEtcd(t *testing.T) {
	requireEtcd(t)
	start := time.Now()
	c := StartEtcd(t, EtcdOptions{})
	t.Logf("3-member etcd cluster healthy in %v", time.Since(start))
	ctx := t.Context()

	if len(c.Members) != 3 {
		t.Fatalf("got %d members, want 3", len(c.Members))
	}
	seen := map[string]bool{}
	for i, m := range c.Members {
		if want := fmt.Sprintf("master-%d", i); m.Name != want {
			t.Errorf("member %d named %q, want %q", i, m.Name, want)
		}
		if !m.Running() || m.PID() == 0 {
			t.Errorf("member %s not running", m.Name)
		}
		for _, u := range []string{m.ClientURL, m.PeerURL} {
			if !strings.HasPrefix(u, "https://127.0.0.1:") || seen[u] {
				t.Errorf("member %s: bad or duplicate URL %q", m.Name, u)
			}
			seen[u] = true
		}
		if c.Member(m.Name) != m {
			t.Errorf("Member(%q) did not return the member", m.Name)
		}
	}
	if c.Member("master-9") != nil {
		t.Error("Member of an unknown name is not nil")
	}

	cl, err := c.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ml, err := cl.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 3 {
		t.Fatalf("member list has %d members", len(ml.Members))
	}
	for _, mm := range ml.Members {
		m := c.Member(mm.Name)
		if m == nil || len(mm.ClientURLs) != 1 || mm.ClientURLs[0] != m.ClientURL || mm.PeerURLs[0] != m.PeerURL {
			t.Errorf("member list entry %+v does not match the cluster", mm)
		}
	}
	putGet(t, ctx, cl, "/lifeboat/a", "1")
	for _, m := range c.Members {
		if got := memberGet(t, ctx, c, m, "/lifeboat/a"); got != "1" {
			t.Errorf("%s has %q", m.Name, got)
		}
	}

	// Plain TCP without a client certificate is refused: client-cert-auth is on.
	files := c.ClientTLS()
	out, err := exec.CommandContext(ctx, mustBinaries(t).Etcdctl, "--endpoints="+c.Members[0].ClientURL,
		"--cacert="+files.CAFile, "--dial-timeout=1s", "--command-timeout=1s", "get", "x").CombinedOutput()
	if err == nil {
		t.Errorf("etcdctl without a client certificate succeeded: %s", out)
	}
	out, err = exec.CommandContext(ctx, mustBinaries(t).Etcdctl, "--endpoints="+strings.Join(c.Endpoints(), ","),
		"--cacert="+files.CAFile, "--cert="+files.CertFile, "--key="+files.KeyFile, "endpoint", "health").CombinedOutput()
	if err != nil {
		t.Errorf("etcdctl endpoint health: %v: %s", err, out)
	}
}

// logRecorder captures what is logged through a testing.TB.
type logRecorder struct {
	testing.TB
	logs []string
}

func (r *logRecorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func TestEtcdLogTails(t *testing.T) {
	t.Parallel() // its own cluster
	requireEtcd(t)
	c := StartEtcd(t, EtcdOptions{})
	rec := &logRecorder{TB: t}
	c.LogTails(rec, 3)
	if len(rec.logs) != 3 {
		t.Fatalf("got %d log entries, want one per member", len(rec.logs))
	}
	for i, m := range c.Members {
		entry := rec.logs[i]
		if !strings.Contains(entry, m.Name) || !strings.Contains(entry, m.LogFile) {
			t.Errorf("entry %d does not name %s and its log: %q", i, m.Name, entry)
		}
		// etcd logs JSON lines; the tail holds exactly 3 of them.
		if body := entry[strings.Index(entry, "---\n")+4:]; strings.Count(body, "\n") != 2 || !strings.Contains(body, `"level"`) {
			t.Errorf("entry %d tail is not 3 etcd log lines: %q", i, body)
		}
	}
}

func mustBinaries(t *testing.T) Binaries {
	t.Helper()
	b, _ := FindBinaries()
	if err := checkExecutable(b.Etcdctl); err != nil {
		t.Skipf("etcdctl missing: %v", err)
	}
	return b
}

func TestEtcdKillMember(t *testing.T) {
	t.Parallel() // its own cluster
	requireEtcd(t)
	c := StartEtcd(t, EtcdOptions{})
	ctx := t.Context()
	cl, err := c.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Kill the leader: the hardest case for requests sent right after.
	var m *EtcdMember
	for _, mm := range c.Members {
		st, err := cl.Status(ctx, mm.ClientURL)
		if err != nil {
			t.Fatal(err)
		}
		if st.Header.MemberId == st.Leader {
			m = mm
		}
	}
	if m == nil {
		t.Fatal("no member is the leader")
	}
	pid := m.PID()
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	if m.Running() || m.PID() != 0 {
		t.Fatal("killed member still running")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d still exists after Kill: %v", pid, err)
	}
	select {
	case <-m.Exited():
	default:
		t.Fatal("Exited not closed after Kill")
	}
	if err := m.Kill(); err != nil {
		t.Fatalf("second Kill: %v", err)
	}
	// Two of three members keep quorum: writes and linearizable reads work.
	putGet(t, ctx, cl, "/lifeboat/after-kill", "yes")

	// Restart on the same data dir: it catches up with the write it missed.
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if m.PID() == 0 || m.PID() == pid {
		t.Fatalf("restarted member pid %d (old %d)", m.PID(), pid)
	}
	if got := memberGet(t, ctx, c, m, "/lifeboat/after-kill"); got != "yes" {
		t.Fatalf("restarted member has %q", got)
	}
}

func TestEtcdStopStartMember(t *testing.T) {
	t.Parallel() // its own cluster
	requireEtcd(t)
	c := StartEtcd(t, EtcdOptions{})
	ctx := t.Context()
	cl, err := c.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Member("master-0")
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if m.Running() {
		t.Fatal("stopped member still running")
	}
	if _, err := os.Stat(filepath.Join(m.DataDir, "member")); err != nil {
		t.Fatalf("data dir after stop: %v", err)
	}
	putGet(t, ctx, cl, "/lifeboat/while-stopped", "v")
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := memberGet(t, ctx, c, m, "/lifeboat/while-stopped"); got != "v" {
		t.Fatalf("rejoined member has %q", got)
	}
	ml, err := cl.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ml.Members) != 3 {
		t.Fatalf("member list after rejoin has %d members", len(ml.Members))
	}

	// Losing quorum and coming back: stop two, start both together.
	for _, n := range []string{"master-1", "master-2"} {
		if err := c.Member(n).Stop(); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = cl.Put(short, "/lifeboat/no-quorum", "x")
	cancel()
	if err == nil {
		t.Fatal("write succeeded without quorum")
	}
	if err := c.StartMembers(ctx, "master-1", "master-2"); err != nil {
		t.Fatal(err)
	}
	putGet(t, ctx, cl, "/lifeboat/quorum-back", "v")
}

func TestEtcdCloseLeavesNoProcess(t *testing.T) {
	requireEtcd(t)
	c, err := NewEtcdCluster(t.Context(), EtcdOptions{Members: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := c.Dir()
	pid := c.Members[0].PID()
	cl, err := c.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	putGet(t, t.Context(), cl, "k", "v")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("member process %d alive after Close: %v", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary dir %s not removed: %v", dir, err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Client(t.Context()); err == nil {
		t.Fatal("Client after Close succeeded")
	}
}

func TestEtcdMissingBinary(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-etcd")
	_, err := NewEtcdCluster(t.Context(), EtcdOptions{Binaries: &Binaries{Etcd: missing}})
	if !errors.Is(err, ErrBinariesMissing) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v, want ErrBinariesMissing naming %s", err, missing)
	}
}

func TestEtcdMemberExitsDuringStart(t *testing.T) {
	requireEtcd(t)
	// An unknown flag makes every member exit at once: the start fails fast
	// with the member's own message instead of waiting for the timeout.
	start := time.Now()
	_, err := NewEtcdCluster(t.Context(), EtcdOptions{Members: 1, ExtraArgs: []string{"--no-such-flag"}})
	if err == nil {
		t.Fatal("start with a bad flag succeeded")
	}
	if !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("error does not say the member exited and why: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("failure took %v", d)
	}
}

// A member that loses the race for its port is recognised, so NewEtcdCluster
// retries on new ports instead of failing.
func TestEtcdPortInUseIsRetryable(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, script string
		retry        bool
	}{
		{"port taken", `echo '{"level":"fatal","msg":"listen failed","error":"listen tcp 127.0.0.1:2380: bind: address already in use"}'; exit 1`, true},
		{"other failure", `echo '{"level":"fatal","msg":"cannot access data directory","error":"permission denied"}'; exit 1`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &EtcdMember{Name: "master-0", LogFile: filepath.Join(dir, tt.name+".log")}
			p, err := startProcess("fake etcd", []string{"/bin/sh", "-c", tt.script}, nil, m.LogFile)
			if err != nil {
				t.Fatal(err)
			}
			<-p.exited()
			err = m.exitError(p)
			if errors.Is(err, errPortInUse) != tt.retry {
				t.Fatalf("errors.Is(%v, errPortInUse) = %v, want %v", err, !tt.retry, tt.retry)
			}
			if !strings.Contains(err.Error(), "master-0 exited (code 1)") || !strings.Contains(err.Error(), `"level":"fatal"`) {
				t.Fatalf("error does not carry the fatal log line: %v", err)
			}
		})
	}
}
