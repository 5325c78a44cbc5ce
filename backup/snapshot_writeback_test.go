package backup

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// hintCall is one call of a writeback hint.
type hintCall struct {
	off, n int64
	wait   bool
}

// recordHints replaces startWriteback for the test; fail makes the
// hints fail from the call numbered failAt (0: never).
func recordHints(t *testing.T, failAt int) *[]hintCall {
	t.Helper()
	var calls []hintCall
	saved := startWriteback
	startWriteback = func(f *os.File, off, n int64, wait bool) error {
		calls = append(calls, hintCall{off, n, wait})
		if failAt > 0 && len(calls) >= failAt {
			return errors.New("operation not supported")
		}
		return nil
	}
	t.Cleanup(func() { startWriteback = saved })
	return &calls
}

// checkHints checks that the started ranges are contiguous from 0, at
// least a chunk each, and that each wait is for the range started before
// the last one.
func checkHints(t *testing.T, calls []hintCall, written int64) {
	t.Helper()
	var next int64
	var started []hintCall
	for i, c := range calls {
		if !c.wait {
			if c.off != next || c.n < writebackChunk {
				t.Fatalf("call %d %+v: want a range of at least %d from %d", i, c, writebackChunk, next)
			}
			next = c.off + c.n
			started = append(started, c)
			continue
		}
		if len(started) < 2 || started[len(started)-2].off != c.off || started[len(started)-2].n != c.n {
			t.Fatalf("call %d %+v waits for a range not started a chunk before (started %+v)", i, c, started)
		}
	}
	if next > written || written-next >= 2*writebackChunk {
		t.Fatalf("ranges cover [0, %d) of %d bytes written: more than a chunk left to the final fsync", next, written)
	}
}

func TestWritebackWriter(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		write     int
		failAt    int
		wantCalls int
	}{
		{name: "empty", size: 0, write: 32 << 10},
		{name: "under a chunk", size: writebackChunk - 1, write: 32 << 10},
		{name: "one chunk", size: writebackChunk, write: 32 << 10, wantCalls: 1},
		{name: "odd writes over three chunks", size: 3*writebackChunk + 5, write: 100_003, wantCalls: 3},
		{name: "one large write", size: 3 * writebackChunk, write: 3 * writebackChunk, wantCalls: 1},
		{name: "hints unsupported", size: 3 * writebackChunk, write: 1 << 20, failAt: 1, wantCalls: 1},
		{name: "wait unsupported", size: 4 * writebackChunk, write: 1 << 20, failAt: 3, wantCalls: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := recordHints(t, tc.failAt)
			data := make([]byte, tc.size)
			rand.Read(data)
			path := filepath.Join(t.TempDir(), "s.db")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			w := newWritebackWriter(f)
			for b := data; len(b) > 0; {
				n, err := w.Write(b[:min(tc.write, len(b))])
				if err != nil {
					t.Fatal(err)
				}
				b = b[n:]
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("file differs from what was written (err %v)", err)
			}
			if len(*calls) != tc.wantCalls {
				t.Fatalf("%d hints, want %d: %+v", len(*calls), tc.wantCalls, *calls)
			}
			if tc.failAt == 0 {
				checkHints(t, *calls, int64(tc.size))
			}
		})
	}
}

// TestSnapshotWritesBackDuringTransfer: Snapshot hands the file to the
// kernel's writeback while the stream arrives, so that the final fsync
// does not write the whole database after the transfer.
func TestSnapshotWritesBackDuringTransfer(t *testing.T) {
	calls := recordHints(t, 0)
	db := makeBoltDB(t, 50)
	for len(db) < 3*writebackChunk {
		db = append(db, db...)
	}
	snap := withTrailer(db)
	res, err := Snapshot(t.Context(), newFakeEtcd(snap), t.TempDir(), SnapshotOptions{Name: "s.db"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(len(snap)) {
		t.Fatalf("size %d, want %d", res.Size, len(snap))
	}
	if len(*calls) == 0 {
		t.Fatal("no writeback started during the transfer")
	}
	checkHints(t, *calls, res.Size)
	t.Log(fmt.Sprint(len(*calls), " hints"))
}

// TestWritebackWriterPlatformHints writes through the platform's own
// hints (sync_file_range and fadvise on Linux): the file is intact.
func TestWritebackWriterPlatformHints(t *testing.T) {
	data := make([]byte, 3*writebackChunk+12345)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "s.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := newWritebackWriter(f)
	for b := data; len(b) > 0; {
		n, err := w.Write(b[:min(1<<20, len(b))])
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	if ww, ok := w.(*writebackWriter); ok && ww.disabled {
		t.Logf("the platform's hints failed on %s; written plainly", t.TempDir())
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file differs from what was written (err %v)", err)
	}
}
