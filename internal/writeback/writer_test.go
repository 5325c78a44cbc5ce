package writeback_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/writeback"
	"github.com/lifeboat-dev/lifeboat/internal/writeback/writebacktest"
)

// writeThrough creates a file, writes data to it through a Writer in
// writes of at most step bytes, and returns the writer, the open file
// (closed at the end of the test) and its path.
func writeThrough(t *testing.T, data []byte, step int) (*writeback.Writer, *os.File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	w := writeback.NewWriter(f)
	for b := data; len(b) > 0; {
		n, err := w.Write(b[:min(step, len(b))])
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	return w, f, path
}

func TestWriter(t *testing.T) {
	const chunk = writeback.Chunk
	tests := []struct {
		name      string
		size      int
		write     int
		failAt    int
		wantCalls int
	}{
		{name: "empty", size: 0, write: 32 << 10},
		{name: "under a chunk", size: chunk - 1, write: 32 << 10},
		{name: "one chunk", size: chunk, write: 32 << 10, wantCalls: 1},
		{name: "odd writes over three chunks", size: 3*chunk + 5, write: 100_003, wantCalls: 3},
		{name: "one large write", size: 3 * chunk, write: 3 * chunk, wantCalls: 1},
		{name: "hints unsupported", size: 3 * chunk, write: 1 << 20, failAt: 1, wantCalls: 1},
		{name: "wait unsupported", size: 4 * chunk, write: 1 << 20, failAt: 3, wantCalls: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := writebacktest.Record(t, tc.failAt)
			data := make([]byte, tc.size)
			rand.Read(data)
			w, _, path := writeThrough(t, data, tc.write)
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("file differs from what was written (err %v)", err)
			}
			calls := rec.Calls("s.db")
			if len(calls) != tc.wantCalls {
				t.Fatalf("%d hints, want %d: %+v", len(calls), tc.wantCalls, calls)
			}
			if tc.failAt == 0 {
				writebacktest.Check(t, calls, int64(tc.size))
			} else if w.Hinting() {
				t.Fatal("still hinting after a failed hint")
			}
		})
	}
}

// TestWriterPlatformHints writes through the platform's own hints
// (sync_file_range and fadvise on Linux): the file is intact.
func TestWriterPlatformHints(t *testing.T) {
	data := make([]byte, 3*writeback.Chunk+12345)
	rand.Read(data)
	w, f, path := writeThrough(t, data, 1<<20)
	if !w.Hinting() {
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
