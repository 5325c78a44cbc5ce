package boltcheck

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// dbSpec shapes a test database written by bbolt itself.
type dbSpec struct {
	pageSize       int
	noFreelistSync bool
	revisions      int   // entries in "key"
	bigValue       int   // bytes of one value in "key" (overflow pages); 0 for none
	churn          bool  // delete and rewrite to leave free pages
	nested         bool  // a nested bucket with an inline child
	meta           bool  // consistent_index, term, storageVersion in "meta"
	lastRev        int64 // set by makeDB
}

func revKey(rev int64) []byte {
	k := make([]byte, 17)
	binary.BigEndian.PutUint64(k, uint64(rev))
	k[8] = '_'
	return k
}

// makeDB writes the database with bbolt and returns its bytes.
func makeDB(t testing.TB, s *dbSpec) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{PageSize: s.pageSize, NoFreelistSync: s.noFreelistSync})
	if err != nil {
		t.Fatal(err)
	}
	put := func(f func(tx *bolt.Tx) error) {
		t.Helper()
		if err := db.Update(f); err != nil {
			t.Fatal(err)
		}
	}
	put(func(tx *bolt.Tx) error {
		kb, err := tx.CreateBucketIfNotExists([]byte("key"))
		if err != nil {
			return err
		}
		for r := 1; r <= s.revisions; r++ {
			v := []byte(fmt.Sprintf("value-%d", r))
			if r == s.revisions/2 && s.bigValue > 0 {
				v = bytes.Repeat([]byte{'v'}, s.bigValue)
			}
			if err := kb.Put(revKey(int64(r)), v); err != nil {
				return err
			}
		}
		mb, err := tx.CreateBucketIfNotExists([]byte("meta"))
		if err != nil {
			return err
		}
		if s.meta {
			ci := make([]byte, 8)
			binary.BigEndian.PutUint64(ci, 4242)
			mb.Put([]byte("consistent_index"), ci)
			term := make([]byte, 8)
			binary.BigEndian.PutUint64(term, 7)
			mb.Put([]byte("term"), term)
			mb.Put([]byte("storageVersion"), []byte("3.7.0"))
			mb.Put([]byte("scheduledCompactRev"), revKey(2))
		}
		members, err := tx.CreateBucketIfNotExists([]byte("members"))
		if err != nil {
			return err
		}
		members.Put([]byte("8e9e05c52164694d"), []byte(`{"id":1}`))
		if s.nested {
			nb, err := tx.CreateBucketIfNotExists([]byte("outer"))
			if err != nil {
				return err
			}
			for i := range 200 {
				nb.Put([]byte(fmt.Sprintf("k%04d", i)), bytes.Repeat([]byte{'n'}, 40))
			}
			in, err := nb.CreateBucketIfNotExists([]byte("inline"))
			if err != nil {
				return err
			}
			in.Put([]byte("a"), []byte("b"))
		}
		return nil
	})
	if s.churn {
		put(func(tx *bolt.Tx) error {
			kb := tx.Bucket([]byte("key"))
			for r := 1; r <= s.revisions; r += 3 {
				kb.Delete(revKey(int64(r)))
			}
			return nil
		})
		put(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("key")).Put(revKey(int64(s.revisions+1)), []byte("last"))
		})
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

// bboltFacts opens the bytes with bbolt and counts what Check reports.
func bboltFacts(t testing.TB, b []byte) (keys, buckets uint64, checkErrs []error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var walk func(b *bolt.Bucket) error
	walk = func(b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v != nil {
				keys++
				return nil
			}
			buckets++
			return walk(b.Bucket(k))
		})
	}
	err = db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			checkErrs = append(checkErrs, e)
		}
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			buckets++
			return walk(b)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys, buckets, checkErrs
}
