package boltcheck

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// FuzzCheckEtcd feeds arbitrary bytes to CheckEtcd. Its committed corpus
// (testdata/fuzz/FuzzCheckEtcd) holds a real etcd snapshot's database and
// damaged variants of it; more seeds come from bbolt-written databases
// with 512-byte pages. It requires an error wrapping ErrCorrupt or
// ErrMemoryBudget, or a consistent report; and whatever it accepts, bbolt
// must read (every bucket, key and value, and its own tx.Check) without
// panicking: the check must leave bbolt nothing to assert on.
func FuzzCheckEtcd(f *testing.F) {
	for _, s := range []dbSpec{
		{pageSize: 512, revisions: 40, meta: true},
		{pageSize: 512, revisions: 120, meta: true, nested: true, bigValue: 1500, churn: true},
		{pageSize: 512, revisions: 60, noFreelistSync: true, churn: true},
	} {
		f.Add(makeDB(f, &s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := CheckEtcd(t.Context(), bytes.NewReader(b), int64(len(b)), Options{MaxMemory: 8 << 20})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrMemoryBudget) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if rep.HighWater*uint64(rep.PageSize) > uint64(len(b)) || rep.Pages > rep.HighWater || rep.KeyCount > rep.Keys {
			t.Fatalf("inconsistent report %+v for %d bytes", rep, len(b))
		}
		if err := bboltReads(t, b); err != nil {
			t.Fatalf("CheckEtcd accepted a database bbolt cannot read: %v", err)
		}
	})
}

// bboltReads opens b with bbolt and reads everything in it, turning a
// panic into an error.
func bboltReads(t *testing.T, b []byte) (err error) {
	path := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("bbolt panicked: %v", r)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer db.Close()
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(b.Bucket(k))
			}
			sha256.Sum256(v)
			return nil
		})
	}
	return db.View(func(tx *bolt.Tx) error {
		for cerr := range tx.Check() {
			if err == nil {
				err = cerr
			}
		}
		if err != nil {
			return err
		}
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walk(b) })
	})
}
