package retention

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestDirStoreRefusesBadArguments: an empty root and a nil manifest are
// *lifeboat.OptionsError each, naming the argument, not an os error about ""
// or a panic.
func TestDirStoreRefusesBadArguments(t *testing.T) {
	_, noRoot := NewDirStore("", DirStoreOptions{})
	errtest.OptionNames(t, []errtest.Option{
		{Name: "store without root", Err: noRoot, Want: "retention.NewDirStore root"},
		{Name: "quick check without manifest", Err: QuickCheck(t.Context(), t.TempDir(), nil), Want: "retention.QuickCheck m"},
		{Name: "full check without manifest", Err: VerifyFull(t.Context(), t.TempDir(), nil), Want: "retention.VerifyFull m"},
	})
}

// TestDirStoreListCancelled: List with a context cancelled before the
// call returns context.Canceled, also when the root is gone (it reads
// nothing).
func TestDirStoreListCancelled(t *testing.T) {
	root := t.TempDir()
	s, err := NewDirStore(root, DirStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.List(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("List(cancelled) = %v, want context.Canceled", err)
	}
}

// TestDirStoreNotBuiltRefuses: a DirStore NewDirStore did not build (the
// zero value, a nil pointer) refuses List, Delete and Apply with a
// *lifeboat.OptionsError naming retention.DirStore, and neither reads
// nor deletes the lifeboat backup in the working directory that its empty
// root would otherwise resolve to.
func TestDirStoreNotBuiltRefuses(t *testing.T) {
	wd := t.TempDir()
	t.Chdir(wd)
	taken := time.Date(2020, 3, 18, 22, 2, 18, 0, time.UTC)
	id := backup.Timestamp(taken)
	writeManifestedBackup(t, wd, id, taken)
	call := func(_ any, err error) error { return err }
	var nilStore *DirStore
	errtest.OptionNames(t, []errtest.Option{
		{Name: "zero List", Err: call((&DirStore{}).List(t.Context())), Want: "retention.DirStore"},
		{Name: "zero Delete", Err: (&DirStore{}).Delete(t.Context(), id), Want: "retention.DirStore"},
		{Name: "nil List", Err: call(nilStore.List(t.Context())), Want: "retention.DirStore"},
		{Name: "nil Delete", Err: nilStore.Delete(t.Context(), id), Want: "retention.DirStore"},
		{Name: "zero in Apply", Err: call(Apply(t.Context(), &DirStore{}, Policy{}, ApplyOptions{})), Want: "retention.DirStore"},
	})
	if _, err := backup.ReadManifest(filepath.Join(wd, id)); err != nil {
		t.Errorf("the backup in the working directory was touched: %v", err)
	}
	if d := (&DirStore{}).Dir(id); d != "" {
		t.Errorf("zero DirStore.Dir(%q) = %q, want \"\"", id, d)
	}
}

// writeManifestedBackup writes root/id as backup.TakePlan would, with two
// small files and their manifest.
func writeManifestedBackup(t *testing.T, root, id string, taken time.Time) {
	t.Helper()
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	m := &backup.Manifest{Format: backup.ManifestFormat, Timestamp: id, CreatedAt: taken}
	for _, f := range []struct {
		mf   *backup.ManifestFile
		name string
	}{{&m.Snapshot, backup.SnapshotFileName(id, false)}, {&m.Resources, backup.ResourcesFileName(id, false)}} {
		if err := os.WriteFile(filepath.Join(dir, f.name), []byte("data"), 0o600); err != nil {
			t.Fatal(err)
		}
		*f.mf = backup.ManifestFile{Name: f.name, Size: 4}
	}
	if err := backup.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}
