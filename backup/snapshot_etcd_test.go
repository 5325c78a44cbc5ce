package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// fillEtcd writes n keys of size bytes under prefix and returns the
// revision of the last write.
func fillEtcd(t testing.TB, cli *clientv3.Client, prefix string, n, size int) int64 {
	t.Helper()
	val := strings.Repeat("x", size)
	var rev int64
	for i := range n {
		resp, err := cli.Put(t.Context(), fmt.Sprintf("%s%05d", prefix, i), val)
		if err != nil {
			t.Fatal(err)
		}
		rev = resp.Header.Revision
	}
	return rev
}

// TestSnapshotRealEtcd runs Snapshot against a real 3-member TLS etcd
// cluster and checks the result with etcd's own tools, then breaks it.
func TestSnapshotRealEtcd(t *testing.T) {
	bin, err := clustertest.FindBinaries()
	if err != nil {
		t.Skipf("etcd binaries missing (run hack/tools.sh): %v", err)
	}
	c := clustertest.StartEtcd(t, clustertest.EtcdOptions{})
	cli, err := c.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// ~40 MiB: more than gRPC's largest flow-control window (16 MiB), so
	// a stream broken after its first megabyte cannot have been received
	// whole already.
	fillEtcd(t, cli, "/big/", 400, 100<<10)
	small := fillEtcd(t, cli, "/registry/small/", 200, 64)
	if _, err := cli.Delete(t.Context(), "/registry/small/00007"); err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Get(t.Context(), "/registry/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	wantRev := resp.Header.Revision
	wantKeys := map[string]string{}
	for _, kv := range resp.Kvs {
		wantKeys[string(kv.Key)] = string(kv.Value)
	}
	if len(wantKeys) != 199 || wantRev != small+1 {
		t.Fatalf("setup: %d keys at revision %d", len(wantKeys), wantRev)
	}
	tls := c.ClientTLS()

	t.Run("accepted by etcdutl and restored", func(t *testing.T) {
		dir := t.TempDir()
		res, err := Snapshot(t.Context(), cli, dir, SnapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision != wantRev || res.Member.Name == "" || res.EtcdVersion == "" || res.Size < 40<<20 ||
			"v"+res.ServerVersion != clustertest.EtcdVersion {
			t.Errorf("result %+v", res)
		}
		out, err := exec.Command(bin.Etcdutl, "snapshot", "status", res.Path, "-w", "json").CombinedOutput()
		if err != nil {
			t.Fatalf("etcdutl snapshot status: %v\n%s", err, out)
		}
		var st struct{ Revision int64 }
		if err := json.Unmarshal(lastLine(out), &st); err != nil || st.Revision != wantRev {
			t.Fatalf("etcdutl snapshot status: revision %d (want %d), %v: %s", st.Revision, wantRev, err, out)
		}
		got, gotRev := restoreAndRead(t, bin, res.Path, "/registry/")
		if gotRev != wantRev {
			t.Errorf("restored revision %d, want %d", gotRev, wantRev)
		}
		if len(got) != len(wantKeys) {
			t.Errorf("restored %d keys, want %d", len(got), len(wantKeys))
		}
		for k, v := range wantKeys {
			if got[k] != v {
				t.Errorf("restored %s = %q, want %q", k, got[k], v)
			}
		}
		info, err := VerifySnapshot(t.Context(), res.Path, VerifySnapshotOptions{})
		if err != nil || info.Revision != wantRev || info.SHA256 != res.SHA256 {
			t.Errorf("VerifySnapshot: %+v, %v", info, err)
		}
	})

	t.Run("etcdctl snapshot passes Verify", func(t *testing.T) {
		dir := t.TempDir()
		const stamp = "2020-03-18_220218"
		out, err := exec.Command(bin.Etcdctl, "--endpoints", c.Members[0].ClientURL,
			"--cacert", tls.CAFile, "--cert", tls.CertFile, "--key", tls.KeyFile,
			"snapshot", "save", filepath.Join(dir, SnapshotFileName(stamp, false))).CombinedOutput()
		if err != nil {
			t.Fatalf("etcdctl snapshot save: %v\n%s", err, out)
		}
		root := t.TempDir()
		masterTree(t, root)
		if _, err := ArchiveStaticResources(t.Context(), hosttest.NewDir("master-0", root, hosttest.DirOptions{}), dir,
			ResourcesOptions{Name: ResourcesFileName(stamp, false)}); err != nil {
			t.Fatal(err)
		}
		b, err := Verify(t.Context(), dir, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if b.Revision != wantRev || b.Manifest != nil || b.Timestamp != stamp || len(b.ResourceDirs) != 4 {
			t.Errorf("Verify: %+v", b)
		}
	})

	t.Run("Take and Verify", func(t *testing.T) {
		root := t.TempDir()
		masterTree(t, root)
		dir := filepath.Join(t.TempDir(), "assets", "backup")
		b, _, err := takeRun(t.Context(), TakeDeps{Etcd: cli, Host: hosttest.NewDir("master-0", root, hosttest.DirOptions{}), Config: configFakeHealthy(t)}, dir, TakeOptions{
			Now: func() time.Time { return testNow },
		})
		if err != nil {
			t.Fatal(err)
		}
		v, err := Verify(t.Context(), dir, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Revision != wantRev || b.Revision != wantRev || v.Snapshot.SHA256 != b.Snapshot.SHA256 || v.ClusterVersion != "4.5.2" {
			t.Errorf("Take %+v\nVerify %+v", b, v)
		}
	})

	// The real stream, altered in transit.
	for _, tc := range []struct {
		name    string
		alter   func(io.Reader) io.Reader
		wantErr error
	}{
		{"flipped byte", func(r io.Reader) io.Reader { return &flipReader{r: r, at: 5 << 20} }, ErrHashMismatch},
		{"truncated stream", func(r io.Reader) io.Reader { return io.LimitReader(r, 10<<20+100) }, ErrTruncated},
		{"without sha256", func(r io.Reader) io.Reader { return &dropTailReader{r: r, n: 32} }, ErrNoHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Snapshot(t.Context(), alteredClient{cli, tc.alter}, dir, SnapshotOptions{})
			var se *SnapshotError
			if !errors.Is(err, tc.wantErr) || !errors.As(err, &se) || se.Op != "verify" {
				t.Fatalf("err = %v, want a *SnapshotError op verify wrapping %v", err, tc.wantErr)
			}
			assertNoFiles(t, dir)
		})
	}

	t.Run("context cancelled mid-stream", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ctx = plan.WithReport(ctx, func(plan.Event) { cancel() })
		_, err := Snapshot(ctx, cli, dir, SnapshotOptions{BufferSize: 64 << 10})
		var se *SnapshotError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &se) {
			t.Fatalf("err = %v, want a *SnapshotError wrapping context.Canceled", err)
		}
		assertNoFiles(t, dir)
	})

	t.Run("full disk", func(t *testing.T) {
		dir := smallTmpfs(t, 8<<20)
		_, err := Snapshot(t.Context(), cli, dir, SnapshotOptions{})
		var se *SnapshotError
		if !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &se) || se.Op != "write" {
			t.Fatalf("err = %v, want a *SnapshotError op write wrapping ENOSPC", err)
		}
		assertNoFiles(t, dir)
	})

	t.Run("serving member killed mid-stream", func(t *testing.T) {
		dir := t.TempDir()
		m := c.Members[1]
		killed := false
		ctx := plan.WithReport(t.Context(), func(plan.Event) {
			if !killed {
				killed = true
				if err := m.Kill(); err != nil {
					t.Error(err)
				}
			}
		})
		_, err := Snapshot(ctx, cli, dir, SnapshotOptions{Endpoint: m.ClientURL, BufferSize: 64 << 10})
		t.Logf("killed member: %v", err)
		var se *SnapshotError
		if !errors.Is(err, ErrTruncated) || !errors.As(err, &se) || se.Op != "receive" {
			t.Fatalf("err = %v, want a *SnapshotError op receive wrapping ErrTruncated", err)
		}
		assertNoFiles(t, dir)
		// The cluster keeps its quorum; a new snapshot comes from a healthy
		// member.
		res, err := Snapshot(t.Context(), cli, dir, SnapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Member.Name == m.Name {
			t.Errorf("snapshot from the killed member %s", m.Name)
		}
	})
}

// alteredClient streams the real snapshot through alter.
type alteredClient struct {
	*clientv3.Client
	alter func(io.Reader) io.Reader
}

func (a alteredClient) SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error) {
	resp, err := a.Client.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, err
	}
	resp.Snapshot = struct {
		io.Reader
		io.Closer
	}{a.alter(resp.Snapshot), resp.Snapshot}
	return resp, nil
}

// flipReader flips one bit of the byte at offset at.
type flipReader struct {
	r   io.Reader
	at  int64
	off int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0x10
	}
	f.off += int64(n)
	return n, err
}

// dropTailReader passes everything but the last n bytes of r.
type dropTailReader struct {
	r   io.Reader
	n   int
	buf []byte
	eof bool
}

func (d *dropTailReader) Read(p []byte) (int, error) {
	for !d.eof && len(d.buf) <= d.n {
		chunk := make([]byte, 32<<10)
		m, err := d.r.Read(chunk)
		d.buf = append(d.buf, chunk[:m]...)
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			return 0, err
		}
	}
	avail := len(d.buf) - d.n
	if avail <= 0 {
		return 0, io.EOF
	}
	m := copy(p, d.buf[:avail])
	d.buf = d.buf[m:]
	return m, nil
}

func lastLine(b []byte) []byte {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return []byte(lines[len(lines)-1])
}

// smallTmpfs mounts a tmpfs of size bytes for the test, or skips when the
// test cannot mount (not root, no CAP_SYS_ADMIN).
func smallTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// restoreAndRead restores snapshot with etcdutl into a new data dir, runs
// a single etcd on it and returns the keys under prefix and the revision.
//
// A port picked free may be taken before etcd binds it (another test's
// server, an outgoing connection's source port): etcd then exits, and the
// restore is made again on new ports, up to 3 times.
func restoreAndRead(t *testing.T, bin clustertest.Binaries, snapshot, prefix string) (map[string]string, int64) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		got, rev, lost := restoreAndReadOnce(t, bin, snapshot, prefix)
		if !lost {
			return got, rev
		}
		if attempt == 3 {
			t.Fatalf("the restored etcd lost its picked ports %d times in a row", attempt)
		}
	}
}

// restoreAndReadOnce is one attempt of restoreAndRead; lost says etcd
// exited because a port it was given was taken.
func restoreAndReadOnce(t *testing.T, bin clustertest.Binaries, snapshot, prefix string) (map[string]string, int64, bool) {
	t.Helper()
	dataDir := filepath.Join(t.TempDir(), "restored")
	peer, client := freeAddr(t), freeAddr(t)
	cluster := "restored=http://" + peer
	out, err := exec.Command(bin.Etcdutl, "snapshot", "restore", snapshot, "--data-dir", dataDir,
		"--name", "restored", "--initial-cluster", cluster, "--initial-advertise-peer-urls", "http://"+peer).CombinedOutput()
	if err != nil {
		t.Fatalf("etcdutl snapshot restore: %v\n%s", err, out)
	}
	log, err := os.Create(filepath.Join(t.TempDir(), "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin.Etcd, "--name", "restored", "--data-dir", dataDir,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--initial-cluster", cluster)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() { cmd.Process.Kill(); <-exited }()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + client}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var resp *clientv3.GetResponse
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		resp, err = cli.Get(rctx, prefix, clientv3.WithPrefix())
		select {
		case <-exited:
			return false, errEtcdExited
		default:
		}
		return err == nil, nil
	})
	if err != nil {
		b, _ := os.ReadFile(log.Name())
		if errors.Is(err, errEtcdExited) && strings.Contains(string(b), "address already in use") {
			return nil, 0, true
		}
		t.Fatalf("restored etcd did not serve: %v\n%s", err, lastLines(b, 10))
	}
	got := map[string]string{}
	for _, kv := range resp.Kvs {
		got[string(kv.Key)] = string(kv.Value)
	}
	return got, resp.Header.Revision, false
}

var errEtcdExited = errors.New("etcd exited")

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
