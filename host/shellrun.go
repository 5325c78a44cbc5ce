package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
	pids := &pidFilter{w: errBuf}
	// A transport may still be copying when it returns after ctx ended:
	// the gates cut it off from the caller's reader and writers.
	gOut, gErr := &gatedWriter{w: w}, &gatedWriter{w: pids}
	var gIn io.Reader
	if stdin != nil {
		gIn = &gatedReader{r: stdin}
	}
	h.log.Debug("shell", "op", op, "line", line)
	marker := newRunMarker()
	// A command whose cancellation overtook its start (a loaded kubelet
	// may start an exec after its stream closed) finds its tombstone,
	// written by stopRemote, and does not run.
	tomb := cancelledPath(marker)
	code, err = h.t(ctx, "export LIFEBOAT_RUN="+marker+"; if [ -e "+tomb+" ]; then rm -f "+tomb+"; exit 130; fi; : "+marker+"; "+pidPrefix+line, gIn, gOut, gErr)
	if err != nil && ctx.Err() != nil {
		h.stopRemote(ctx, pids.get(), marker)
	}
	gOut.close() // waits for a write in progress (Open: until read or closed)
	gErr.close()
	if gIn != nil {
		gIn.(*gatedReader).closed.Store(true)
	}
	pids.flush()
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return out.Bytes(), code, errBuf.Bytes(), fmt.Errorf("host %s: %s: %w", h.name, op, err)
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

// stopTree is a shell function that stops the process $1 and all its
// descendants, not only its children: each is frozen (SIGSTOP) before its
// children are listed, so none forks behind the walk, then sent SIGTERM
// and thawed. A pipeline or subshell in the line runs in grandchildren of
// the shell; a real kubelet's exec, like sshd, kills none of them when the
// stream closes.
const stopTree = `t() { kill -STOP "$1" 2>/dev/null; for c in $(pgrep -P "$1"); do t "$c"; done; kill -TERM "$1" 2>/dev/null; kill -CONT "$1" 2>/dev/null; }; `

// runMarkerPrefix begins every marker: "export LIFEBOAT_RUN=<marker>; :
// <marker>; " leads each line, so the shell running it can be found by
// its command line (pgrep -f) and, once it has exec'd its last command
// (sh does), that command and every descendant by their environment,
// when the PID report never arrived.
const runMarkerPrefix = "lifeboat-run-"

// A cancelled command's tombstone: cancelledDir/<marker>cancelledSuffix.
const (
	cancelledDir    = "/tmp"
	cancelledSuffix = ".cancelled"
)

// stopDone is the last line of a stop command's output.
const stopDone = "lifeboat-stop-done"

func cancelledPath(marker string) string { return cancelledDir + "/" + marker + cancelledSuffix }

func newRunMarker() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return runMarkerPrefix + hex.EncodeToString(b)
}

// stopRemote terminates a cancelled command and its descendants on the
// host, with a separate short command, because neither transport reliably
// signals the command when its stream is closed (sshd refuses signals for
// root logins; exec streams carry none). With the command's PID it stops
// that tree. Without it -- ctx ended before the PID report arrived, and
// the command may start only after the stream closed (a loaded kubelet) --
// it looks for the shell by its marker for up to five seconds and stops
// what it finds (the pattern's bracket keeps pgrep from matching the stop
// command itself).
func (h *shellHost) stopRemote(ctx context.Context, pid int, marker string) {
	var line string
	switch {
	case pid > 1:
		line = stopTree + fmt.Sprintf("t %d", pid)
	case strings.HasPrefix(marker, runMarkerPrefix) && len(marker) > len(runMarkerPrefix)+1:
		i := len(runMarkerPrefix)
		pat := marker[:i] + "[" + marker[i:i+1] + "]" + marker[i+1:]
		// The tombstone first: a command not started yet will not run;
		// one already past its check is found by the search. Its path
		// is split so that this line's own command line does not match
		// the search pattern. Tombstones of commands that never started
		// are removed after an hour.
		// The marker is never spelled out whole in this line: the
		// search would find (and stop) the shell running it.
		split := marker[:i] + `""` + marker[i:]
		line = stopTree + fmt.Sprintf(`m="%s"; tomb="%s/$m%s"; : > "$tomb" 2>/dev/null; find %s -maxdepth 1 -name '%s*%s' -mmin +60 -delete 2>/dev/null; n=0; while [ $n -lt 10 ]; do f=; ps=$(pgrep -f '%s') es=$(grep -lsF "LIFEBOAT_RUN=$m" /proc/[0-9]*/environ | cut -d/ -f3); echo "scan $n: $ps / $es"; for p in $ps $es; do [ "$p" = "$$" ] && continue; t "$p"; f=1; done; [ -n "$f" ] && break; n=$((n+1)); sleep 0.5; done; [ -n "$f" ] && rm -f "$tomb"`,
			split, cancelledDir, cancelledSuffix, cancelledDir, runMarkerPrefix, cancelledSuffix, pat)
	default:
		return
	}
	// The line ends by saying so: an exec stream can end "successfully"
	// with the line never run (seen on a loaded real kubelet: code 0, no
	// output), so a stop without that word is tried again.
	line += "; echo " + stopDone + "; exit 0"
	for attempt := 1; attempt <= 3; attempt++ {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		var out limitedBuffer
		out.n = 4 << 10
		code, err := h.t(actx, line, nil, &out, &out)
		cancel()
		h.log.Debug("stopping cancelled command", "pid", pid, "marker", marker, "attempt", attempt, "code", code, "err", err, "output", out.String())
		if err != nil || code != 0 || strings.Contains(out.String(), stopDone) {
			return // ran, or the transport failed: trying again would not help
		}
	}
}
