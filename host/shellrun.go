package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lifeboat-dev/lifeboat/internal/safego"
)

// A LineRunner runs one POSIX shell command line as root on a host
// ("sudo -n sh -c <line>" over SSH, "chroot /host sh -c <line>" in a debug
// pod, package host/debugpod). It streams stdin (nil: none) to the line and
// the line's standard output to stdout, writes its standard error to stderr,
// and returns the exit code of the line. err is reserved for failures to
// run it at all (lost connection, cancelled ctx); a non-zero exit is not an
// error. When ctx ends it returns promptly; the Host built on it (NewShell)
// then stops the line's process tree on the host itself.
type LineRunner func(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) (code int, err error)

// stderrLimit bounds how much standard error an ExitError keeps.
const stderrLimit = 64 << 10

// quote makes s one word for a POSIX shell: single quotes, with each
// embedded single quote written as '\”.
func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteArgv joins argv into a shell command line that runs exactly argv.
func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quote(a)
	}
	return strings.Join(q, " ")
}

// limitedBuffer keeps the first n bytes written to it and discards the rest.
type limitedBuffer struct {
	bytes.Buffer
	n int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.n - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// run runs line, collecting stdout unless w is given. It returns the exit
// code and standard error; err is a transport failure, wrapped with the
// host name and op.
func (h *shellHost) run(ctx context.Context, op, line string, stdin io.Reader, w io.Writer) (stdout []byte, code int, stderr []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, -1, nil, fmt.Errorf("host %s: %s: %w", h.name, op, err)
	}
	var out bytes.Buffer
	if w == nil {
		w = &out
	}
	errBuf := &limitedBuffer{n: stderrLimit}
	marker := newRunMarker()
	tail := &trailerFilter{w: errBuf, prefix: exitTrailer + " " + marker + " "}
	pids := &pidFilter{w: tail}
	// A transport may still be copying when it returns after ctx ended:
	// the gates cut it off from the caller's reader and writers. It
	// copies on goroutines of its own: a panic of the caller's reader or
	// writer there is the copy's error (and so the transport's).
	gOut, gErr := &gatedWriter{w: safego.Writer("host "+h.name+": "+op+": writing its output", w)}, &gatedWriter{w: pids}
	var gIn io.Reader
	if stdin != nil {
		gIn = &gatedReader{r: safego.Reader("host "+h.name+": "+op+": reading its input", stdin)}
	}
	h.log.Debug("shell", "op", op, "line", line, "marker", marker)
	code, err = h.t(ctx, wrapLine(marker, line), gIn, gOut, gErr)
	if err != nil && ctx.Err() != nil {
		h.stopRemote(ctx, pids.get(), marker)
	}
	gOut.close() // waits for a write in progress (Open: until read or closed)
	gErr.close()
	if gIn != nil {
		gIn.(*gatedReader).closed.Store(true)
	}
	pids.flush()
	done, trailerCode := tail.finish()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return out.Bytes(), code, errBuf.Bytes(), fmt.Errorf("host %s: %s: %w", h.name, op, err)
	}
	if !done || trailerCode != code {
		// The stream ended "normally" without the line saying it finished
		// (seen on a loaded real kubelet: code 0, no output at all).
		ie := &IncompleteError{Host: h.name, Op: op, Code: code, Completed: done, LineCode: trailerCode, Stderr: errBuf.Bytes()}
		return out.Bytes(), -1, errBuf.Bytes(), ie
	}
	return out.Bytes(), code, errBuf.Bytes(), nil
}

// gatedWriter forwards writes to w until closed, and fails them after.
type gatedWriter struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, io.ErrClosedPipe
	}
	return g.w.Write(p)
}

func (g *gatedWriter) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// gatedReader reads from r until closed, and returns io.EOF after. A Read
// already in progress when it is closed is not interrupted.
type gatedReader struct {
	r      io.Reader
	closed atomic.Bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.closed.Load() {
		return 0, io.EOF
	}
	return g.r.Read(p)
}

// pidPrefix makes every shell line report its process ID on the first
// line of standard error, so that a cancelled command can be stopped on the
// far side (see stopRemote); pidFilter takes the line out again.
const pidPrefix = `echo "lifeboat-pid $$" >&2; `

// pidFilter passes standard error through to w, except its first line
// when that is pidPrefix's report, whose PID it keeps.
type pidFilter struct {
	w    io.Writer
	mu   sync.Mutex
	head []byte
	done bool
	pid  int
}

func (f *pidFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return f.w.Write(p)
	}
	f.head = append(f.head, p...)
	i := bytes.IndexByte(f.head, '\n')
	if i < 0 {
		if len(f.head) > 64 { // not our report
			f.done = true
			_, err := f.w.Write(f.head)
			return len(p), err
		}
		return len(p), nil
	}
	f.done = true
	first, rest := f.head[:i], f.head[i+1:]
	if pid, ok := strings.CutPrefix(string(first), "lifeboat-pid "); ok {
		f.pid, _ = strconv.Atoi(pid)
	} else {
		rest = f.head
	}
	if len(rest) > 0 {
		if _, err := f.w.Write(rest); err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}

// flush passes on a first line that never ended (stderr shorter than a
// line, from a command that failed before the report).
func (f *pidFilter) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done {
		f.done = true
		f.w.Write(f.head)
	}
}

func (f *pidFilter) get() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pid
}
