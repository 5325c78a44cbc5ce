package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/mounttest"
)

func TestCommitWritesModeAndRemovesPart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.db")
	if err := WriteFile(path, strings.NewReader("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(path + ".part"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("part file left behind: %v", err)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.db")
	f, err := Create(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	f.Abort() // safe twice
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("abort left %d entries", len(entries))
	}
	if err := f.Commit(); err == nil {
		t.Fatal("commit after abort succeeded")
	}
}

func TestWriteFileFailingReaderLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x")
	err := WriteFile(path, failingReader{}, 0o600)
	if err == nil {
		t.Fatal("want error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("failed write left %d entries", len(entries))
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("stream broke") }

// TestWriteFileOnMounts writes into directories that are their own
// filesystems (a real tmpfs and ext4 mount): the part file is staged there,
// so the commit never renames across a mount.
func TestWriteFileOnMounts(t *testing.T) {
	for _, kind := range []mounttest.Kind{mounttest.Tmpfs, mounttest.Ext4} {
		t.Run(string(kind), func(t *testing.T) {
			dir := mounttest.Mount(t, kind)
			p := filepath.Join(dir, "snapshot_2026-11-30_100000.db")
			if err := WriteFile(p, strings.NewReader("data"), 0o600); err != nil {
				t.Fatalf("WriteFile on a %s mount: %v", kind, err)
			}
			if b, err := os.ReadFile(p); err != nil || string(b) != "data" {
				t.Fatalf("read back %q, %v", b, err)
			}
			if _, err := os.Stat(p + ".part"); !os.IsNotExist(err) {
				t.Errorf("part file left: %v", err)
			}
		})
	}
}
