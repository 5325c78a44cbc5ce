package restore

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The restore benchmark compares, in one run and on the same snapshot, the
// in-process restore (RestoreSnapshot, in a child process so that its peak
// RSS is its own) with "etcdutl snapshot restore --bump-revision
// --mark-compacted". It prints wall time, peak RSS and the ratios; it
// asserts nothing about speed.
//
//	LIFEBOAT_BENCH_RESTORE=1 go test ./restore -run TestBenchRestoreVsEtcdutl -v -timeout 30m
//
// LIFEBOAT_BENCH_SNAPSHOT names an existing snapshot to use; otherwise one
// of LIFEBOAT_BENCH_SIZE_MB (default 1100) megabytes is made with an
// in-process etcd under LIFEBOAT_BENCH_DIR (default a temporary directory).

const benchChildEnv = "LIFEBOAT_BENCH_RESTORE_CHILD"

func TestMain(m *testing.M) {
	if snap := os.Getenv(benchChildEnv); snap != "" {
		// Child: restore the snapshot into the directory, in process.
		dir := os.Getenv(benchChildEnv + "_DIR")
		_, err := RestoreSnapshot(context.Background(), snap, dir, SnapshotOptions{
			Name: "bench", PeerURL: "http://127.0.0.1:2380", RevisionBump: DefaultRevisionBump,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestBenchRestoreVsEtcdutl(t *testing.T) {
	if os.Getenv("LIFEBOAT_BENCH_RESTORE") == "" {
		t.Skip("set LIFEBOAT_BENCH_RESTORE=1 to run the 1 GiB restore benchmark")
	}
	etcdutl := os.Getenv("LIFEBOAT_ETCDUTL")
	if etcdutl == "" {
		home, _ := os.UserHomeDir()
		etcdutl = filepath.Join(home, ".cache/lifeboat/bin/etcd-v3.7.3/etcdutl")
	}
	if _, err := os.Stat(etcdutl); err != nil {
		t.Skipf("etcdutl binary missing (run hack/tools.sh): %v", err)
	}
	work := os.Getenv("LIFEBOAT_BENCH_DIR")
	if work == "" {
		work = t.TempDir()
	}
	snap := os.Getenv("LIFEBOAT_BENCH_SNAPSHOT")
	if snap == "" {
		mb := 1100
		if v, err := strconv.Atoi(os.Getenv("LIFEBOAT_BENCH_SIZE_MB")); err == nil && v > 0 {
			mb = v
		}
		snap = bigSnapshot(t, work, mb)
	}
	fi, err := os.Stat(snap)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		wall time.Duration
		rss  int64 // KiB
	}
	measure := func(name string, cmd *exec.Cmd) result {
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r := result{wall: time.Since(start)}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rss = ru.Maxrss
		}
		return r
	}
	// Drop what the first reader cached as well as we can: both read the
	// snapshot once before timing.
	io.Copy(io.Discard, mustOpen(t, snap))

	outUtl := filepath.Join(work, "restored-etcdutl")
	outLib := filepath.Join(work, "restored-lifeboat")
	os.RemoveAll(outUtl)
	os.RemoveAll(outLib)
	utl := measure("etcdutl", exec.Command(etcdutl, "snapshot", "restore", snap,
		"--data-dir", outUtl, "--name", "bench", "--initial-cluster", "bench=http://127.0.0.1:2380",
		"--initial-advertise-peer-urls", "http://127.0.0.1:2380",
		"--bump-revision", strconv.FormatUint(DefaultRevisionBump, 10), "--mark-compacted"))
	child := exec.Command(self, "-test.run=^$")
	child.Env = append(os.Environ(), benchChildEnv+"="+snap, benchChildEnv+"_DIR="+outLib)
	lib := measure("lifeboat", child)
	os.RemoveAll(outUtl)
	os.RemoveAll(outLib)

	fmt.Printf("restore benchmark, snapshot %.2f GiB\n", float64(fi.Size())/(1<<30))
	fmt.Printf("  etcdutl snapshot restore --bump-revision --mark-compacted: wall %8s  peak RSS %6d MiB\n", utl.wall.Round(time.Millisecond), utl.rss/1024)
	fmt.Printf("  restore.RestoreSnapshot (hash check + restore, in process): wall %8s  peak RSS %6d MiB\n", lib.wall.Round(time.Millisecond), lib.rss/1024)
	fmt.Printf("  ratio lifeboat/etcdutl: wall %.3f, peak RSS %.3f (target: wall within 1.05)\n",
		float64(lib.wall)/float64(utl.wall), float64(lib.rss)/float64(utl.rss))
}

func mustOpen(t *testing.T, p string) io.Reader {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// bigSnapshot fills an in-process etcd with about mb megabytes of values
// and saves its snapshot.
func bigSnapshot(t *testing.T, dir string, mb int) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("snapshot_bench_%dMB.db", mb))
	if _, err := os.Stat(p); err == nil {
		return p
	}
	ctx := context.Background()
	te := startEmbedQuota(t, filepath.Join(dir, "bench-src"), int64(mb+512)<<20)
	val := strings.Repeat("x", 1<<20)
	for i := 0; i < mb; i++ {
		if _, err := te.client.Put(ctx, fmt.Sprintf("/registry/bench/%06d", i), val); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := te.client.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p + ".part")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	te.stop()
	os.RemoveAll(filepath.Join(dir, "bench-src"))
	if err := os.Rename(p+".part", p); err != nil {
		t.Fatal(err)
	}
	return p
}
