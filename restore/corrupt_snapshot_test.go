package restore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/boltcheck"
)

// boltLayout finds, in a bbolt database db (trailer removed), the page
// size, the root bucket's page of the newest meta, and the offset in db of
// the value of top-level bucket name (its 16-byte bucket header).
func boltLayout(t *testing.T, db []byte, name string) (ps int, root uint64, bucketValue int) {
	t.Helper()
	le := binary.LittleEndian
	ps = int(le.Uint32(db[16+8:]))
	m0, m1 := db[16:], db[ps+16:]
	m := m0
	if le.Uint64(m1[48:]) > le.Uint64(m0[48:]) {
		m = m1
	}
	root = le.Uint64(m[16:])
	p := db[int(root)*ps:]
	if le.Uint16(p[8:]) != 0x02 {
		t.Fatalf("root bucket page %d is not a single leaf (flags %#x); grow the test", root, le.Uint16(p[8:]))
	}
	for i := range int(le.Uint16(p[10:])) {
		e := 16 + 16*i
		pos, ksize := int(le.Uint32(p[e+4:])), int(le.Uint32(p[e+8:]))
		if string(p[e+pos:e+pos+ksize]) == name {
			return ps, root, int(root)*ps + e + pos + ksize
		}
	}
	t.Fatalf("no bucket %q in the root page", name)
	return
}

// corruptUnderValidTrailer applies f to the database part of a real etcd
// snapshot and appends a fresh sha256 trailer, so only the database check
// can notice.
func corruptUnderValidTrailer(t *testing.T, snap []byte, f func(db []byte)) string {
	t.Helper()
	db := bytes.Clone(snap[:len(snap)-sha256.Size])
	f(db)
	sum := sha256.Sum256(db)
	p := filepath.Join(t.TempDir(), "snapshot_2026-11-24_180000.db")
	if err := os.WriteFile(p, append(db, sum[:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCorruptSnapshotUnderValidTrailer: a real etcd snapshot whose pages
// are damaged but whose sha256 trailer is recomputed is refused with the
// typed error, never a panic or a fault, by backup's verification and by
// RestoreSnapshot (which would otherwise hand it to bbolt and etcdutl).
// Before lifeboat checked bolt files itself, the first case killed the
// whole process with a fault (bbolt read a page far outside its memory
// map), which no recover can catch, and the last one passed the checks and
// panicked inside etcdutl's restore (mvcc.BytesToRev on a short key).
func TestCorruptSnapshotUnderValidTrailer(t *testing.T) {
	snapPath, _ := makeSnapshot(t, 300)
	snap, err := os.ReadFile(snapPath)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	cases := []struct {
		name string
		f    func(t *testing.T, db []byte)
	}{
		{"key bucket root far outside the file", func(t *testing.T, db []byte) {
			_, _, v := boltLayout(t, db, "key")
			le.PutUint64(db[v:], 1<<28) // 1 TiB into the file: past bbolt's map, inside its array bound
		}},
		{"key bucket root is the root page (a cycle)", func(t *testing.T, db []byte) {
			_, root, v := boltLayout(t, db, "key")
			le.PutUint64(db[v:], root)
		}},
		{"meta bucket root is a meta page", func(t *testing.T, db []byte) {
			_, _, v := boltLayout(t, db, "meta")
			le.PutUint64(db[v:], 1)
		}},
		{"element count of the root page overflows it", func(t *testing.T, db []byte) {
			ps, root, _ := boltLayout(t, db, "key")
			le.PutUint16(db[int(root)*ps+10:], 0xffff)
		}},
		{"key bucket page holds a short revision key", func(t *testing.T, db []byte) {
			ps, _, v := boltLayout(t, db, "key")
			kroot := int(le.Uint64(db[v:]))
			p := db[kroot*ps:]
			if le.Uint16(p[8:]) != 0x01 && le.Uint16(p[8:]) != 0x02 {
				t.Fatalf("key root page flags %#x", le.Uint16(p[8:]))
			}
			if le.Uint16(p[8:]) == 0x01 { // branch: descend to the last child
				last := int(le.Uint16(p[10:])) - 1
				p = db[int(le.Uint64(p[16+16*last+8:]))*ps:]
			}
			last := int(le.Uint16(p[10:])) - 1
			le.PutUint32(p[16+16*last+8:], 8) // ksize 17 -> 8: etcd's BytesToRev panics on it
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := corruptUnderValidTrailer(t, snap, func(db []byte) { tc.f(t, db) })

			_, err := backup.VerifySnapshot(t.Context(), p, backup.VerifySnapshotOptions{})
			var ce *boltcheck.CorruptError
			if !errors.Is(err, backup.ErrCorruptDatabase) || !errors.As(err, &ce) {
				t.Fatalf("backup.VerifySnapshot: err = %v, want ErrCorruptDatabase with the page", err)
			}
			t.Logf("backup: %v", err)

			root := t.TempDir()
			dataDir := filepath.Join(root, "etcd")
			_, err = RestoreSnapshot(t.Context(), p, dataDir, SnapshotOptions{Writer: etcdutlWriter, Name: "master-0", PeerURL: "https://10.0.0.1:2380", ForceInProcess: true})
			var se *backup.SnapshotError
			if !errors.Is(err, backup.ErrCorruptDatabase) || !errors.Is(err, backup.ErrCorruptDatabase) || !errors.As(err, &se) {
				t.Fatalf("RestoreSnapshot: err = %v, want *backup.SnapshotError wrapping backup.ErrCorruptDatabase and backup.ErrCorruptDatabase", err)
			}
			if entries, _ := os.ReadDir(root); len(entries) != 0 {
				t.Errorf("refused restore left %v in %s", entries, root)
			}
		})
	}
	// The untouched snapshot still restores: the check refuses damage, not
	// etcd's own files.
	info, err := backup.VerifySnapshot(t.Context(), snapPath, backup.VerifySnapshotOptions{})
	if err != nil || info.Revision < 300 {
		t.Fatalf("pristine snapshot: %+v, %v", info, err)
	}
	if _, err := RestoreSnapshot(t.Context(), snapPath, filepath.Join(t.TempDir(), "etcd"), SnapshotOptions{Writer: etcdutlWriter, Name: "master-0", PeerURL: "https://10.0.0.1:2380", ForceInProcess: true}); err != nil {
		t.Fatalf("pristine snapshot: %v", err)
	}
}
