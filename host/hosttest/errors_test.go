package hosttest

import (
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins the package's sentinels, and produces
// each: a command on a Dir without DirOptions.Run, any call to
// Unimplemented.
func TestSentinelsAreDistinct(t *testing.T) {
	errtest.Sentinels(t, map[string]error{"ErrCommandRefused": ErrCommandRefused, "ErrUnimplemented": ErrUnimplemented})

	ctx := t.Context()
	if _, err := NewDir("m", t.TempDir(), DirOptions{}).Run(ctx, nil, "true"); !errors.Is(err, ErrCommandRefused) {
		t.Errorf("Dir.Run without DirOptions.Run = %v, want ErrCommandRefused", err)
	}
	if _, err := Unimplemented("m").ReadFile(ctx, "/etc/hostname"); !errors.Is(err, ErrUnimplemented) {
		t.Errorf("Unimplemented.ReadFile = %v, want ErrUnimplemented", err)
	}
}
