package backup

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// realSnapshotFile is a real etcd v3.7 snapshot (with its sha256 trailer)
// committed by internal/boltcheck's seed generator.
const realSnapshotFile = "../internal/boltcheck/testdata/etcd-snapshot.db"

// FuzzTrailer feeds bytes to the streaming sha256-trailer check in chunks
// of any size and compares it with a direct computation over the whole
// input: same digests, same verdict, never a panic.
func FuzzTrailer(f *testing.F) {
	db := makeBoltDB(f, 30)
	f.Add(withTrailer(db), uint16(4096))
	f.Add(withTrailer(db), uint16(7))
	f.Add(db, uint16(512))
	f.Add(withTrailer(db)[:len(db)+31], uint16(33))
	f.Add([]byte{}, uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint16) {
		h := newTrailerHasher()
		step := int(chunk%8192) + 1
		for p := b; len(p) > 0; {
			n := min(step, len(p))
			h.Write(p[:n])
			p = p[n:]
		}
		r, err := h.Finish()
		whole := sha256.Sum256(b)
		if r.FileSHA != hex.EncodeToString(whole[:]) || r.Size != int64(len(b)) {
			t.Fatalf("file digest %s size %d, want %x %d", r.FileSHA, r.Size, whole, len(b))
		}
		n := len(b)
		switch {
		case n == 0:
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("empty: %v", err)
			}
		case n%512 == 0:
			if !errors.Is(err, ErrNoHash) || r.HasHash {
				t.Fatalf("no trailer: %v %+v", err, r)
			}
		case n%512 != trailerSize:
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("odd size %d: %v", n, err)
			}
		default:
			sum := sha256.Sum256(b[:n-trailerSize])
			valid := bytes.Equal(sum[:], b[n-trailerSize:])
			if r.DBSHA != hex.EncodeToString(sum[:]) || r.HashValid != valid || (err == nil) != valid {
				t.Fatalf("trailer: %+v err %v, want valid=%v", r, err, valid)
			}
			if !valid && !errors.Is(err, ErrHashMismatch) {
				t.Fatalf("mismatch: %v", err)
			}
		}
	})
}

// FuzzVerifySnapshot runs VerifySnapshot (trailer and database check) on
// arbitrary files. Its committed corpus (testdata/fuzz/FuzzVerifySnapshot)
// holds a real etcd snapshot and variants damaged under a recomputed
// trailer. Every failure must be a *SnapshotError wrapping one of the
// documented sentinels; nothing may panic.
func FuzzVerifySnapshot(f *testing.F) {
	f.Add(withTrailer(makeBoltDB(f, 50)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "snapshot.db")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		info, err := VerifySnapshot(t.Context(), p, VerifySnapshotOptions{})
		if err == nil {
			if !info.HasHash || info.Size != int64(len(b)) {
				t.Fatalf("accepted without a trailer: %+v", info)
			}
			return
		}
		var se *SnapshotError
		if !errors.As(err, &se) {
			t.Fatalf("err %T %v, want *SnapshotError", err, err)
		}
		for _, s := range []error{ErrTruncated, ErrNoHash, ErrHashMismatch, ErrCorruptDatabase} {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("err %v wraps no documented sentinel", err)
	})
}

// FuzzReadManifest parses arbitrary backup.json content: a Manifest of
// the supported format, or an error wrapping ErrBadManifest.
func FuzzReadManifest(f *testing.F) {
	good, err := json.MarshalIndent(&Manifest{Format: ManifestFormat, Timestamp: "2020-03-18_220218",
		CreatedAt: time.Date(2020, 3, 18, 22, 2, 18, 0, time.UTC), Revision: 1234, ClusterVersion: "4.5.2",
		Snapshot:     ManifestFile{Name: "snapshot_2020-03-18_220218.db", Size: 20512, SHA256: "ab"},
		Resources:    ManifestFile{Name: "static_kuberesources_2020-03-18_220218.tar.gz", Size: 100, SHA256: "cd"},
		ResourceDirs: []ResourceDir{{Component: "etcd", Revision: 3}}}, "", "  ")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(bytes.Replace(good, []byte(`"format": 1`), []byte(`"format": 2`), 1))
	f.Add([]byte(`{"format":1,"revision":1e400}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ManifestFileName), b, 0o600); err != nil {
			t.Fatal(err)
		}
		m, err := ReadManifest(dir)
		if err != nil {
			if !errors.Is(err, ErrBadManifest) {
				t.Fatalf("err %v, want ErrBadManifest", err)
			}
			return
		}
		if m == nil || m.Format != ManifestFormat {
			t.Fatalf("accepted %+v", m)
		}
	})
}

// TestWriteVerifySeedCorpus writes FuzzVerifySnapshot's corpus from the
// committed real etcd snapshot when LIFEBOAT_WRITE_SEEDS=1.
func TestWriteVerifySeedCorpus(t *testing.T) {
	if os.Getenv("LIFEBOAT_WRITE_SEEDS") != "1" {
		t.Skip("set LIFEBOAT_WRITE_SEEDS=1 to regenerate the committed seeds")
	}
	snap, err := os.ReadFile(realSnapshotFile)
	if err != nil {
		t.Fatal(err)
	}
	db := snap[:len(snap)-trailerSize]
	damaged := func(off int) []byte {
		d := bytes.Clone(db)
		d[off] ^= 0x20
		return withTrailer(d)
	}
	seeds := map[string][]byte{
		"etcd-snapshot":            snap,
		"etcd-flipped-no-resum":    func() []byte { b := bytes.Clone(snap); b[9000] ^= 1; return b }(),
		"etcd-root-page-resummed":  damaged(3*4096 + 16 + 8),
		"etcd-page-flags-resummed": damaged(4*4096 + 8),
		"etcd-no-trailer":          db,
		"etcd-truncated":           snap[:len(snap)-100],
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzVerifySnapshot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
