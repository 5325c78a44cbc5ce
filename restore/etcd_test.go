package restore

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/lifeboat-dev/lifeboat/internal/embedtest"
)

// freeURL returns http://127.0.0.1:<free port>.
func freeURL(t *testing.T) url.URL { return embedtest.FreeURL(t) }

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
	cfg.InitialClusterToken = "test-" + name
	e, cu, pu := embedtest.Start(t, cfg, peer, 2*time.Minute)
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
