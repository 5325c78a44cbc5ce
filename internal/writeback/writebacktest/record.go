// Package writebacktest records the writeback hints of package writeback
// in tests, and checks their pattern.
package writebacktest

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/writeback"
)

// Call is one hint: the file's path as opened, its range, and whether it
// was a wait.
type Call struct {
	File   string
	Off, N int64
	Wait   bool
}

// Recorder holds the hints made since Record.
type Recorder struct {
	mu    sync.Mutex
	calls []Call
}

// Record replaces the platform's hint for the test (not for parallel
// tests); from the call numbered failAt on (0: never) the hints fail as
// on a file system without support.
func Record(t testing.TB, failAt int) *Recorder {
	t.Helper()
	r := &Recorder{}
	restore := writeback.SetHintForTesting(func(f *os.File, off, n int64, wait bool) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, Call{f.Name(), off, n, wait})
		if failAt > 0 && len(r.calls) >= failAt {
			return errors.New("operation not supported")
		}
		return nil
	})
	t.Cleanup(restore)
	return r
}

// Calls returns the hints made so far; with a file, only that file's: its
// base name, or its path when file has a directory (a file written under
// a temporary name such as "s.db.part" counts under its final name too).
func (r *Recorder) Calls(file string) []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Call
	for _, c := range r.calls {
		name := c.File
		if filepath.Base(file) == file {
			name = filepath.Base(name)
		}
		if file == "" || name == file || name == file+".part" {
			out = append(out, c)
		}
	}
	return out
}

// Check fails t unless calls (one file's) start contiguous ranges from 0
// of at least a Chunk each, each wait is for the range started before the
// last one, and less than a chunk of the written bytes was left to the
// final fsync (so a file of a Chunk or more must have been hinted).
func Check(t testing.TB, calls []Call, written int64) {
	t.Helper()
	var next int64
	var started []Call
	for i, c := range calls {
		if !c.Wait {
			if c.Off != next || c.N < writeback.Chunk {
				t.Fatalf("call %d %+v: want a range of at least %d from %d", i, c, writeback.Chunk, next)
			}
			next = c.Off + c.N
			started = append(started, c)
			continue
		}
		if len(started) < 2 || started[len(started)-2].Off != c.Off || started[len(started)-2].N != c.N {
			t.Fatalf("call %d %+v waits for a range not started a chunk before (started %+v)", i, c, started)
		}
	}
	if next > written || written-next >= writeback.Chunk {
		t.Fatalf("ranges cover [0, %d) of %d bytes written: more than a chunk left to the final fsync", next, written)
	}
}
