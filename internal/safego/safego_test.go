package safego

import (
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
)

func TestCall(t *testing.T) {
	var nilMap map[string]int
	for _, tc := range []struct {
		name      string
		f         func() error
		wantPanic bool
		wantCause error
		wantValue string
	}{
		{"returns", func() error { return fs.ErrNotExist }, false, fs.ErrNotExist, ""},
		{"nil", func() error { return nil }, false, nil, ""},
		{"panics with a string", func() error { panic("boom") }, true, nil, "boom"},
		{"panics with an error", func() error { panic(fs.ErrPermission) }, true, fs.ErrPermission, "permission denied"},
		{"faults", func() error { nilMap["x"] = 1; return nil }, true, nil, "nil map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Call("op", tc.f)
			var pe *lifeboat.PanicError
			if got := errors.As(err, &pe); got != tc.wantPanic || errors.Is(err, lifeboat.ErrPanicked) != tc.wantPanic {
				t.Fatalf("Call = %v, want a *lifeboat.PanicError: %v", err, tc.wantPanic)
			}
			if tc.wantCause != nil && !errors.Is(err, tc.wantCause) {
				t.Errorf("Call = %v, does not match %v", err, tc.wantCause)
			}
			if !tc.wantPanic {
				if err != tc.wantCause {
					t.Errorf("Call = %v, want %v", err, tc.wantCause)
				}
				return
			}
			if pe.Op != "op" || !strings.Contains(err.Error(), tc.wantValue) || !strings.HasPrefix(err.Error(), "op panicked: ") {
				t.Errorf("Error() = %q, want op and %q", err.Error(), tc.wantValue)
			}
			// The first frame is the function that panicked, not the runtime's.
			first, _, _ := strings.Cut(pe.Stack, "\n")
			if !strings.Contains(first, "TestCall") {
				t.Errorf("Stack starts with %q, want the panicking test function:\n%s", first, pe.Stack)
			}
			if n := strings.Count(pe.Stack, "\n\t"); n == 0 || n > maxFrames {
				t.Errorf("Stack has %d frames, want 1 to %d", n, maxFrames)
			}
			if strings.Contains(err.Error(), pe.Stack) {
				t.Error("Error() carries the stack")
			}
		})
	}
}

// TestCallOnAGoroutine: a panic on a goroutine comes back as an error to
// the goroutine that waits for it, instead of ending the test binary.
func TestCallOnAGoroutine(t *testing.T) {
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = Call("worker", func() error { panic("boom") }) })
	wg.Wait()
	if !errors.Is(err, lifeboat.ErrPanicked) {
		t.Fatalf("err = %v, want ErrPanicked", err)
	}
}

// TestRecoverWithoutPanic leaves the error alone.
func TestRecoverWithoutPanic(t *testing.T) {
	err := func() (err error) {
		defer Recover("op", &err)
		return fs.ErrClosed
	}()
	if err != fs.ErrClosed {
		t.Fatalf("err = %v, want %v", err, fs.ErrClosed)
	}
}

type panicRW struct{}

func (panicRW) Read([]byte) (int, error)  { panic("read broke") }
func (panicRW) Write([]byte) (int, error) { panic("write broke") }

// TestReaderWriter: a panic of the wrapped Read or Write is its error.
func TestReaderWriter(t *testing.T) {
	n, rerr := Reader("reading", panicRW{}).Read(make([]byte, 4))
	_, werr := Writer("writing", panicRW{}).Write([]byte("x"))
	var pe *lifeboat.PanicError
	if n != 0 || !errors.As(rerr, &pe) || pe.Op != "reading" || pe.Value != "read broke" {
		t.Errorf("Read = %d, %v", n, rerr)
	}
	if !errors.As(werr, &pe) || pe.Op != "writing" || pe.Value != "write broke" {
		t.Errorf("Write = %v", werr)
	}
	var b strings.Builder
	if n, err := Writer("writing", &b).Write([]byte("ok")); n != 2 || err != nil || b.String() != "ok" {
		t.Errorf("Write = %d, %v; wrote %q", n, err, b.String())
	}
}

// TestCallValue: the value and error f returned, or the zero value and a
// *lifeboat.PanicError naming op when f panics.
func TestCallValue(t *testing.T) {
	v, err := CallValue("op", func() (int, error) { return 7, fs.ErrExist })
	if v != 7 || err != fs.ErrExist {
		t.Fatalf("CallValue = %d, %v; want 7, %v", v, err, fs.ErrExist)
	}
	v, err = CallValue("op", func() (int, error) { panic("boom") })
	var pe *lifeboat.PanicError
	if v != 0 || !errors.As(err, &pe) || pe.Op != "op" || pe.Value != "boom" {
		t.Fatalf("CallValue of a panic = %d, %v; want 0 and a *PanicError naming op", v, err)
	}
}
