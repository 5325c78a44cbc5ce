package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The restore benchmark compares, on the same snapshot, the in-process
// restore (RestoreSnapshot) with "etcdutl snapshot restore --bump-revision
// --mark-compacted" in three rounds whose order alternates, and prints each
// round, the median of the three wall-time ratios and each side's peak RSS.
// It asserts nothing about speed.
//
//	LIFEBOAT_BENCH_RESTORE=1 go test ./restore -run TestBenchRestoreVsEtcdutl -v -timeout 60m
//
// LIFEBOAT_BENCH_SNAPSHOT names an existing snapshot to use; otherwise one
// of LIFEBOAT_BENCH_SIZE_MB (default 1100) megabytes is made with an
// in-process etcd under LIFEBOAT_BENCH_DIR (default a temporary directory).
//
// Peak RSS: Go starts a child with vfork semantics (CLONE_VM), and Linux
// seeds a process's maxrss at exec with the high-water RSS of the address
// space it leaves, which for such a child is its parent's. Measured from
// this test process (gigabytes after making the snapshot), both sides
// would report this process's peak. So each side runs under a small
// launcher process (this test binary in launcher mode) that runs it, reads
// the child's own ru_maxrss from wait4 and prints it.

const (
	benchChildEnv  = "LIFEBOAT_BENCH_RESTORE_CHILD"
	benchLaunchEnv = "LIFEBOAT_BENCH_LAUNCH"
)

// benchRun is what the launcher reports about the command it ran.
type benchRun struct {
	WallNS    int64 `json:"wallNS"`
	MaxRSSKiB int64 `json:"maxRSSKiB"`
	// LauncherRSSKiB is the launcher's own high-water mark, the floor
	// below which a child's figure cannot go.
	LauncherRSSKiB int64  `json:"launcherRSSKiB"`
	Err            string `json:"err,omitempty"`
}

func TestMain(m *testing.M) {
	if argv := os.Getenv(benchLaunchEnv); argv != "" {
		os.Exit(benchLaunch(argv))
	}
	if snap := os.Getenv(benchChildEnv); snap != "" {
		// Child: restore the snapshot into the directory, in process.
		dir := os.Getenv(benchChildEnv + "_DIR")
		_, err := RestoreSnapshot(context.Background(), snap, dir, SnapshotOptions{
			Writer: etcdutlWriter,
			Name:   "bench", PeerURL: "http://127.0.0.1:2380", RevisionBump: defaultRevisionBump,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchLaunch runs the command argvJSON names (a JSON array), with this
// process's environment minus the launcher variable, and prints a benchRun.
func benchLaunch(argvJSON string) int {
	var argv []string
	if err := json.Unmarshal([]byte(argvJSON), &argv); err != nil || len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "bench launcher: bad argv:", err)
		return 2
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, benchLaunchEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	r := benchRun{WallNS: int64(time.Since(start))}
	if err != nil {
		r.Err = fmt.Sprintf("%v: %s", err, stderr.Bytes())
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.MaxRSSKiB = ru.Maxrss
	}
	// VmHWM is this address space's own high-water mark (the rusage
	// of this process carries its parent's, for the reason above).
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
				r.LauncherRSSKiB, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	json.NewEncoder(os.Stdout).Encode(r)
	return 0
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
	out := filepath.Join(work, "restored")
	launch := func(name string, env []string, argv ...string) benchRun {
		t.Helper()
		os.RemoveAll(out)
		defer os.RemoveAll(out)
		a, _ := json.Marshal(argv)
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(append(os.Environ(), env...), benchLaunchEnv+"="+string(a))
		cmd.Stderr = os.Stderr
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: launcher: %v", name, err)
		}
		var r benchRun
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: launcher said %q: %v", name, b, err)
		}
		if r.Err != "" {
			t.Fatalf("%s: %s", name, r.Err)
		}
		return r
	}
	utl := func() benchRun {
		return launch("etcdutl", nil, etcdutl, "snapshot", "restore", snap,
			"--data-dir", out, "--name", "bench", "--initial-cluster", "bench=http://127.0.0.1:2380",
			"--initial-advertise-peer-urls", "http://127.0.0.1:2380",
			"--bump-revision", strconv.FormatUint(defaultRevisionBump, 10), "--mark-compacted")
	}
	lib := func() benchRun {
		return launch("lifeboat", []string{benchChildEnv + "=" + snap, benchChildEnv + "_DIR=" + out}, self, "-test.run=^$")
	}
	// Both read the snapshot once before timing, so neither pays for the
	// first read from disk.
	io.Copy(io.Discard, mustOpen(t, snap))

	fmt.Printf("restore benchmark, snapshot %.2f GiB, 3 rounds, order alternating\n", float64(fi.Size())/(1<<30))
	var ratios []float64
	var peakUtl, peakLib, floor int64
	for round := range 3 {
		var u, l benchRun
		if round%2 == 0 {
			u, l = utl(), lib()
		} else {
			l, u = lib(), utl()
		}
		ratio := float64(l.WallNS) / float64(u.WallNS)
		ratios = append(ratios, ratio)
		peakUtl, peakLib = max(peakUtl, u.MaxRSSKiB), max(peakLib, l.MaxRSSKiB)
		floor = max(floor, u.LauncherRSSKiB, l.LauncherRSSKiB)
		fmt.Printf("  round %d: etcdutl %8s  peak RSS %5d MiB | lifeboat %8s  peak RSS %5d MiB | ratio %.3f\n", round+1,
			time.Duration(u.WallNS).Round(time.Millisecond), u.MaxRSSKiB/1024,
			time.Duration(l.WallNS).Round(time.Millisecond), l.MaxRSSKiB/1024, ratio)
	}
	slices.Sort(ratios)
	fmt.Printf("  median ratio lifeboat/etcdutl (wall): %.3f (target: at most 1.05)\n", ratios[1])
	fmt.Printf("  peak RSS: etcdutl %d MiB, lifeboat %d MiB (each measured in its own child; launcher floor %d MiB)\n",
		peakUtl/1024, peakLib/1024, floor/1024)
	var load string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.TrimSpace(string(b))
	}
	fmt.Printf("  load average at the end: %s\n", load)
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
