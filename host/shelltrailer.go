package host

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"
)

// exitTrailer begins the last line of standard error of every line a
// shell host runs: "lifeboat-exit <marker> <code>", written by the
// wrapper (wrapLine) once the line ended. A stream that ends without it
// did not carry the whole run, whatever exit code the transport reports.
const exitTrailer = "lifeboat-exit"

// trailerFilter passes standard error through to w, holding back the last
// complete line (and anything after it) until finish, which takes that
// line out when it is the run's trailer (prefix, then the exit code).
type trailerFilter struct {
	w      io.Writer
	prefix string

	mu   sync.Mutex
	held []byte
}

func (f *trailerFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held = append(f.held, p...)
	// Keep from the start of the last complete line on.
	end := bytes.LastIndexByte(f.held, '\n')
	if end < 0 {
		return len(p), nil
	}
	start := bytes.LastIndexByte(f.held[:end], '\n') + 1
	if start > 0 {
		if _, err := f.w.Write(f.held[:start]); err != nil {
			return len(p), err
		}
		f.held = append(f.held[:0:0], f.held[start:]...)
	}
	return len(p), nil
}

// finish flushes what it held and reports whether the stream ended with
// the trailer, and the code the trailer gave.
func (f *trailerFilter) finish() (done bool, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	held := f.held
	f.held = nil
	last := string(held)
	if s, ok := strings.CutSuffix(last, "\n"); ok && !strings.Contains(s, "\n") {
		if c, ok := strings.CutPrefix(s, f.prefix); ok {
			if n, err := strconv.Atoi(c); err == nil {
				return true, n
			}
		}
	}
	if len(held) > 0 {
		f.w.Write(held)
	}
	return false, -1
}
