package retention

import (
	"context"
	"errors"
	"os"
	"testing"

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
