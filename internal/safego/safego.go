// Package safego turns a panic in code lifeboat calls (a caller's plan
// step or callback, a dependency from a Deps struct) into a
// *lifeboat.PanicError returned as an error, on the caller's goroutine or
// on one lifeboat started, so that the panic never ends the embedder's
// process (package lifeboat, ErrPanicked).
package safego

import (
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
)

// maxFrames bounds PanicError.Stack: the frames nearest the panic say
// where it came from; the rest are lifeboat's own.
const maxFrames = 16

// Recover, deferred directly (defer safego.Recover(op, &err)), recovers a
// panic of the current goroutine and sets *err to a *lifeboat.PanicError
// naming op, whatever *err held. It does nothing when the goroutine is
// not panicking.
func Recover(op string, err *error) {
	if v := recover(); v != nil {
		*err = &lifeboat.PanicError{Op: op, Value: v, Stack: stack()}
	}
}

// Call runs f and returns its error, or a *lifeboat.PanicError naming op
// when f panics. Goroutines lifeboat starts run caller-supplied code
// through it and hand the error to the call that started them.
func Call(op string, f func() error) (err error) {
	defer Recover(op, &err)
	return f()
}

// CallValue is Call for a function that returns a value with its error:
// the value f returned, or T's zero value with a *lifeboat.PanicError
// naming op when f panics.
func CallValue[T any](op string, f func() (T, error)) (v T, err error) {
	defer Recover(op, &err)
	return f()
}

// stack formats the panicking goroutine's frames from the one that called
// panic (or faulted) outward, at most maxFrames of them; "" when the
// frames do not show runtime.gopanic (not called while panicking).
func stack() string {
	pcs := make([]uintptr, 64+maxFrames)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	var b strings.Builder
	panicking, n := false, 0
	for n < maxFrames {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && (n > 0 || !strings.HasPrefix(f.Function, "runtime.")):
			// runtime frames right under gopanic (sigpanic, panicmem,
			// goPanicIndex) are how the fault became a panic.
			b.WriteString(f.Function + "\n\t" + f.File + ":" + strconv.Itoa(f.Line) + "\n")
			n++
		}
		if !more {
			break
		}
	}
	return b.String()
}

// Reader returns r with a Read that returns a panic of r.Read as a
// *lifeboat.PanicError naming op: for a caller's reader that a goroutine
// of another package reads (os/exec's and x/crypto/ssh's stdin copiers).
func Reader(op string, r io.Reader) io.Reader { return &reader{op: op, r: r} }

type reader struct {
	op string
	r  io.Reader
}

func (r *reader) Read(p []byte) (n int, err error) {
	defer Recover(r.op, &err)
	return r.r.Read(p)
}

// Writer returns w with a Write that returns a panic of w.Write as a
// *lifeboat.PanicError naming op, for a caller's writer that a goroutine
// of another package writes (a transport's stdout and stderr copiers).
func Writer(op string, w io.Writer) io.Writer { return &writer{op: op, w: w} }

type writer struct {
	op string
	w  io.Writer
}

func (w *writer) Write(p []byte) (n int, err error) {
	defer Recover(w.op, &err)
	return w.w.Write(p)
}
