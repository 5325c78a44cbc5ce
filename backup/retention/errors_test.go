package retention

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other, nor any of
// the backup family's or lifeboat.ErrInvalidOptions, with errors.Is) and
// survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrBadListing": ErrBadListing, "ErrNotBackup": ErrNotBackup, "ErrNotFound": ErrNotFound,
		"lifeboat.ErrInvalidOptions": lifeboat.ErrInvalidOptions,
	}
	errtest.Sentinels(t, sentinels)
}

// TestPolicyValidate: a refused Policy field is the one invalid-options
// kind, a *lifeboat.OptionsError naming the field.
func TestPolicyValidate(t *testing.T) {
	var oe *lifeboat.OptionsError
	err := (Policy{KeepLast: -1}).Validate()
	if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) || oe.Option != "retention.Policy.KeepLast" {
		t.Fatalf("Validate = %v, want a *lifeboat.OptionsError for retention.Policy.KeepLast", err)
	}
}

// TestSelectRefusesBadListing produces ErrBadListing through Select.
func TestSelectRefusesBadListing(t *testing.T) {
	_, err := Select([]Backup{{ID: "a"}, {ID: "a"}}, Policy{KeepLast: 1}, Options{})
	if !errors.Is(err, ErrBadListing) {
		t.Fatalf("Select = %v, want ErrBadListing", err)
	}
}

// TestDirStoreDeleteErrors produces ErrNotFound and ErrNotBackup through
// DirStore.Delete on a temporary directory.
func TestDirStoreDeleteErrors(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "2024-01-01_000000"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewDirStore(root, DirStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, id string
		want     error
	}{
		{"absent", "2024-02-02_000000", ErrNotFound},
		{"a path", "../x", ErrNotBackup},
		{"a file", "2024-01-01_000000", ErrNotBackup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Delete(t.Context(), tc.id); !errors.Is(err, tc.want) {
				t.Fatalf("Delete(%q) = %v, want %v", tc.id, err, tc.want)
			}
		})
	}
}

// TestOptionsErrorNamesTheOption: each refusal names the rule or argument
// at fault, qualified by its struct or function.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	_, noStore := Apply(t.Context(), nil, Policy{KeepLast: 1}, ApplyOptions{})
	_, badPolicy := Apply(t.Context(), nil, Policy{KeepDaily: -1}, ApplyOptions{})
	errtest.OptionNames(t, []errtest.Option{
		{Name: "negative count", Err: Policy{KeepWeekly: -1}.Validate(), Want: "retention.Policy.KeepWeekly"},
		{Name: "negative window", Err: Policy{KeepWithin: -time.Hour}.Validate(), Want: "retention.Policy.KeepWithin"},
		{Name: "apply without store", Err: noStore, Want: "retention.Apply store"},
		{Name: "apply with a bad policy", Err: badPolicy, Want: "retention.Policy.KeepDaily"},
	})
}
