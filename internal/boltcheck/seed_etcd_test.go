package boltcheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/lifeboat-dev/lifeboat/internal/embedtest"
)

// etcdSnapshotFile is a real etcd v3.7 snapshot (sha256 trailer included)
// of a member holding a few keys, made once by TestWriteSeedCorpus.
const etcdSnapshotFile = "testdata/etcd-snapshot.db"

// TestRealEtcdSnapshot checks the committed real snapshot: accepted, with
// etcd's consistent index, term, storage version and keys.
func TestRealEtcdSnapshot(t *testing.T) {
	snap, err := os.ReadFile(etcdSnapshotFile)
	if err != nil {
		t.Fatal(err)
	}
	db := snap[:len(snap)-32]
	rep, err := check(t, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.HasConsistentIndex || rep.ConsistentIndex == 0 || rep.Term == 0 || rep.StorageVersion == "" || rep.KeyCount < 20 || rep.Revision < 20 {
		t.Errorf("report %+v", rep)
	}
	keys, buckets, _ := bboltFacts(t, db)
	if rep.Keys != keys || rep.Buckets != buckets {
		t.Errorf("%d keys, %d buckets; bbolt: %d, %d", rep.Keys, rep.Buckets, keys, buckets)
	}
}

// TestWriteSeedCorpus regenerates testdata/etcd-snapshot.db from a real
// in-process etcd member and the FuzzCheckEtcd corpus from it, when
// LIFEBOAT_WRITE_SEEDS=1 (run once; the output is committed).
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("LIFEBOAT_WRITE_SEEDS") != "1" {
		t.Skip("set LIFEBOAT_WRITE_SEEDS=1 to regenerate the committed seeds")
	}
	snap := realSnapshot(t)
	if err := os.WriteFile(etcdSnapshotFile, snap, 0o644); err != nil {
		t.Fatal(err)
	}
	db := snap[:len(snap)-32]
	ps := int(binary.LittleEndian.Uint32(db[16+8:]))
	flip := func(off int) []byte { b := bytes.Clone(db); b[off] ^= 0x40; return b }
	seeds := map[string][]byte{
		"etcd-snapshot":          db,
		"etcd-truncated-half":    db[:len(db)/2],
		"etcd-truncated-page":    db[:len(db)-ps],
		"etcd-meta0-flipped":     flip(16 + 20),
		"etcd-page2-count":       flip(2*ps + 10),
		"etcd-last-page-element": flip(len(db) - ps + 16 + 4),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzCheckEtcd")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func realSnapshot(t *testing.T) []byte {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "seed"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	e, cu, _ := embedtest.Start(t, cfg, "", 60*time.Second)
	defer func() { e.Close(); <-e.Server.StopNotify() }()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{cu.String()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := range 30 {
		if _, err := c.Put(ctx, fmt.Sprintf("/registry/seed/%02d", i), fmt.Sprintf("value-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Delete(ctx, "/registry/seed/07"); err != nil {
		t.Fatal(err)
	}
	rc, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
