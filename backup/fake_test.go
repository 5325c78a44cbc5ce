package backup

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lifeboat-dev/lifeboat/etcdtest"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// newFakeEtcd serves snap from a 3-member cluster (master-0 leads) at
// revision 42.
func newFakeEtcd(snap []byte) *etcdtest.Cluster {
	return etcdtest.NewCluster("master-0", "master-1", "master-2").SetRevision(42).SetSnapshot(snap, "")
}

// streaming serves the reader stream returns instead of c's snapshot
// (nil stream: c's).
func streaming(c *etcdtest.Cluster, stream func(ctx context.Context) io.Reader) etcdtest.Client {
	if stream == nil {
		return c
	}
	return etcdtest.Wrap(c, etcdtest.Funcs{
		SnapshotWithVersion: func(ctx context.Context, next etcdtest.Client) (*clientv3.SnapshotResponse, error) {
			resp, err := next.SnapshotWithVersion(ctx)
			if err != nil {
				return nil, err
			}
			resp.Snapshot = io.NopCloser(stream(ctx))
			return resp, nil
		},
	})
}

// makeBoltDB writes a small etcd-shaped bolt database (buckets "key" and
// "meta", revisions 2..rev) and returns its bytes.
func makeBoltDB(t testing.TB, rev int64) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		kb, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		for r := int64(2); r <= rev; r++ {
			k := make([]byte, 17)
			binary.BigEndian.PutUint64(k, uint64(r))
			k[8] = '_'
			if err := kb.Put(k, []byte{'k', byte(r)}); err != nil {
				return err
			}
		}
		mb, err := tx.CreateBucket([]byte("meta"))
		if err != nil {
			return err
		}
		return mb.Put([]byte("storageVersion"), []byte("3.7.0"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withTrailer appends etcd's sha256 trailer.
func withTrailer(db []byte) []byte {
	sum := sha256.Sum256(db)
	return append(append([]byte(nil), db...), sum[:]...)
}

// assertNoFiles fails when dir holds any file.
func assertNoFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("file left behind: %s", e.Name())
	}
}
