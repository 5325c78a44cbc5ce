package restore

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// freeURL returns http://127.0.0.1:<free port>.
func freeURL(t *testing.T) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}

type testEtcd struct {
	e      *embed.Etcd
	client *clientv3.Client
	peer   string
}

// startEmbed runs an in-process etcd member on dir (new, or an existing
// data directory such as a restored one) with the given name and peer URL
// ("" picks one).
func startEmbed(t *testing.T, dir, name, peer string) *testEtcd {
	t.Helper()
	return startEmbedWith(t, dir, name, peer, 0)
}

// startEmbedQuota starts a new member with a backend quota of quota bytes.
func startEmbedQuota(t *testing.T, dir string, quota int64) *testEtcd {
	t.Helper()
	return startEmbedWith(t, dir, "src", "", quota)
}

func startEmbedWith(t *testing.T, dir, name, peer string, quota int64) *testEtcd {
	t.Helper()
	cfg := embed.NewConfig()
	if quota > 0 {
		cfg.QuotaBackendBytes = quota
	}
	cfg.Dir = dir
	cfg.Name = name
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	// A port picked free may be taken before etcd binds it (another
	// test's server, an outgoing connection's source port): etcd then
	// fails to listen and touches nothing in dir, so it is started again
	// on new ports (a given peer URL stays).
	var e *embed.Etcd
	var pu, cu url.URL
	for attempt := 1; ; attempt++ {
		pu = freeURL(t)
		if peer != "" {
			u, err := url.Parse(peer)
			if err != nil {
				t.Fatal(err)
			}
			pu = *u
		}
		cu = freeURL(t)
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.InitialCluster = name + "=" + pu.String()
		cfg.InitialClusterToken = "test-" + name
		var err error
		e, err = embed.StartEtcd(cfg)
		if err == nil {
			break
		}
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			continue
		}
		t.Fatalf("starting etcd on %s: %v", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(2 * time.Minute): // catches a hang only
		e.Close()
		t.Fatal("etcd did not become ready")
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{cu.String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.Close()
		t.Fatal(err)
	}
	te := &testEtcd{e: e, client: c, peer: pu.String()}
	t.Cleanup(te.stop)
	return te
}

func (te *testEtcd) stop() {
	if te.client != nil {
		te.client.Close()
		te.client = nil
	}
	if te.e != nil {
		te.e.Close()
		<-te.e.Server.StopNotify()
		te.e = nil
	}
}

// makeSnapshot starts an etcd, writes n keys "/registry/test/<i>" and a
// few updates, and saves a snapshot (with etcd's sha256 trailer) to a file.
// It returns the snapshot path and the revision at the snapshot.
func makeSnapshot(t *testing.T, n int) (string, int64) {
	t.Helper()
	ctx := context.Background()
	te := startEmbed(t, filepath.Join(t.TempDir(), "src"), "src", "")
	var rev int64
	for i := 0; i < n; i++ {
		r, err := te.client.Put(ctx, fmt.Sprintf("/registry/test/%d", i), fmt.Sprintf("value-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}
	p, _ := saveSnapshot(t, te.client, filepath.Join(t.TempDir(), "snapshot_2026-11-24_180000.db"))
	te.stop()
	return p, rev
}

// saveSnapshot saves a snapshot of c's member (with etcd's sha256 trailer)
// to path and returns path and the revision the snapshot holds.
func saveSnapshot(t *testing.T, c *clientv3.Client, path string) (string, int64) {
	t.Helper()
	ctx := context.Background()
	// etcd writes its storage version a moment after it starts, from a
	// background monitor: a snapshot taken before then has none (and reads
	// as a pre-3.6 snapshot). On a busy machine that moment comes late, so
	// wait for it rather than for luck.
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // catches a hang only
	defer cancel()
	var st *clientv3.StatusResponse
	for {
		var err error
		st, err = c.Status(sctx, c.Endpoints()[0])
		if err == nil && st.StorageVersion != "" {
			break
		}
		if sctx.Err() != nil {
			t.Fatalf("etcd never reported a storage version: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rc, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, st.Header.Revision
}
