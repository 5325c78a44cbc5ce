package debugpod

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lifeboat-dev/lifeboat/host"
)

// TestErrNotRunning pins the package's sentinel: it survives %w wrapping
// with an operation and target, and is not host's invalid-path kind.
func TestErrNotRunning(t *testing.T) {
	if ErrNotRunning == nil || ErrNotRunning.Error() == "" {
		t.Fatal("ErrNotRunning is nil or has no text")
	}
	w := fmt.Errorf("run on master-0: %w", ErrNotRunning)
	if !errors.Is(w, ErrNotRunning) {
		t.Error("ErrNotRunning does not survive wrapping")
	}
	if errors.Is(w, host.ErrInvalidPath) {
		t.Error("ErrNotRunning matches host.ErrInvalidPath")
	}
}
