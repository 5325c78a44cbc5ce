package host

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
)

// TestShellOpenRecoversAPanic: Open runs the LineRunner on a goroutine of
// its own; a panic there is Open's error, or the reader's once content
// flowed, instead of the end of the process.
func TestShellOpenRecoversAPanic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before string // written to stdout before the panic
	}{
		{"before the file is found", ""},
		{"while streaming", string(openMarker) + "abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewShell("master-0", func(_ context.Context, _ string, _ io.Reader, stdout, _ io.Writer) (int, error) {
				if tc.before != "" {
					io.WriteString(stdout, tc.before)
				}
				panic("transport broke")
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := h.Open(t.Context(), "/etc/kubernetes/manifests/etcd-pod.yaml")
			if tc.before != "" {
				if err != nil {
					t.Fatalf("Open = %v, want the reader", err)
				}
				var b []byte
				b, err = io.ReadAll(rc)
				rc.Close()
				if string(b) != "abc" {
					t.Errorf("read %q, want %q", b, "abc")
				}
			}
			var pe *lifeboat.PanicError
			if !errors.Is(err, lifeboat.ErrPanicked) || !errors.As(err, &pe) || pe.Value != "transport broke" {
				t.Fatalf("err = %v, want the LineRunner's panic", err)
			}
		})
	}
}

// panicReader panics on Read.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("stdin broke") }

// TestStdinPanics: a caller's stdin that panics when a transport's own
// goroutine reads it (os/exec's for Local, the LineRunner's for a shell
// host, as x/crypto/ssh's and client-go's copiers do) fails Run with the
// panic instead of ending the process.
func TestStdinPanics(t *testing.T) {
	shell, err := NewShell("master-0", func(_ context.Context, _ string, stdin io.Reader, _, _ io.Writer) (int, error) {
		copied := make(chan error, 1)
		go func() {
			_, err := io.Copy(io.Discard, stdin)
			copied <- err
		}()
		return -1, <-copied
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	local := NewLocal("local", t.TempDir(), LocalOptions{})
	for name, h := range map[string]Host{"shell": shell, "local": local} {
		t.Run(name, func(t *testing.T) {
			_, err := h.Run(t.Context(), panicReader{}, "cat")
			var pe *lifeboat.PanicError
			if !errors.Is(err, lifeboat.ErrPanicked) || !errors.As(err, &pe) || pe.Value != "stdin broke" {
				t.Fatalf("Run = %v, want the reader's panic", err)
			}
		})
	}
}
