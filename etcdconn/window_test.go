package etcdconn_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/etcdconn"
)

// countingProxy forwards TCP connections to target and counts the bytes
// the client sends upstream.
type countingProxy struct {
	l        net.Listener
	upstream atomic.Int64
	wg       sync.WaitGroup
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{l: l}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.wg.Add(2)
			go func() { defer p.wg.Done(); io.Copy(io.MultiWriter(s, countWriter{&p.upstream}), c); s.Close() }()
			go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return p
}

// countWriter counts bytes written.
type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(b []byte) (int, error) { w.n.Add(int64(len(b))); return len(b), nil }

// TestSnapshotStreamFlowControlWindow: a client from New receives a
// snapshot stream (32 KiB messages, hundreds of MiB on a real cluster)
// with few flow-control window updates. With gRPC's default 64 KiB
// window, which its bandwidth-delay estimator barely grows on a
// low-latency link, the client sent a WINDOW_UPDATE for about every
// 16 KiB it read: one TLS record and one write syscall each, and as many
// frames for the member to handle.
func TestSnapshotStreamFlowControlWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	cluster := clustertest.StartEtcd(t, clustertest.EtcdOptions{Members: 1})
	files := cluster.ClientTLS()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// About 24 MiB of data, so the snapshot carries that much.
	seed, err := cluster.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer seed.Close()
	val := strings.Repeat("x", 1<<20)
	for i := range 24 {
		if _, err := seed.Put(ctx, "/window/"+string(rune('a'+i)), val); err != nil {
			t.Fatal(err)
		}
	}

	target := strings.TrimPrefix(cluster.Members[0].ClientURL, "https://")
	proxy := newCountingProxy(t, target)
	cli, err := etcdconn.New(ctx, etcdconn.Config{
		Endpoints: []string{"https://" + proxy.l.Addr().String()},
		CAFile:    files.CAFile, CertFile: files.CertFile, KeyFile: files.KeyFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	rc, err := cli.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	// What the client sends while it reads the stream: window updates
	// (the request went out with Snapshot).
	before := proxy.upstream.Load()
	if _, err := io.Copy(countWriter{&got}, rc); err != nil {
		t.Fatal(err)
	}
	sent := proxy.upstream.Load() - before
	rc.Close()
	mib := float64(got.Load()) / (1 << 20)
	perMiB := float64(sent) / mib
	t.Logf("snapshot %.1f MiB; the client sent %d bytes while reading it (%.0f per MiB received)", mib, sent, perMiB)
	if mib < 20 {
		t.Fatalf("snapshot is %.1f MiB, want at least 20", mib)
	}
	// Each window update is a 13-byte frame in a TLS record of about 35
	// bytes. gRPC's default window measured 260 to 520 bytes of them per
	// MiB received (one update per 70 to 130 KiB); a 2 MiB window 70
	// to 85; New's 8 MiB window about 20.
	if perMiB > 160 {
		t.Errorf("the client sent %.0f bytes per MiB of snapshot received (window updates), want under 160", perMiB)
	}
}
