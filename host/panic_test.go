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
