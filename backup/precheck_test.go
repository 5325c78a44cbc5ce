package backup

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestCheckFreeSpaceStatfs(t *testing.T) {
	// A directory that does not exist yet is measured on its nearest
	// existing parent.
	dir := filepath.Join(t.TempDir(), "not", "yet")
	if err := CheckFreeSpace(dir, 1<<20, nil); err != nil {
		t.Fatalf("1 MiB database: %v", err)
	}
	err := CheckFreeSpace(dir, 1<<62, nil)
	var pe *PrecheckError
	if !errors.Is(err, ErrInsufficientSpace) || !errors.As(err, &pe) || pe.Check != "free-space" {
		t.Fatalf("4 EiB database: err = %v, want a free-space *PrecheckError", err)
	}
}
