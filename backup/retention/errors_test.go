package retention

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrInvalidBackup": ErrInvalidBackup, "ErrInvalidPolicy": ErrInvalidPolicy, "ErrNotBackup": ErrNotBackup, "ErrNotFound": ErrNotFound,
	}
	for name, s := range sentinels {
		if s == nil || s.Error() == "" {
			t.Errorf("%s is nil or has no text", name)
			continue
		}
		if w := fmt.Errorf("op target: %w", s); !errors.Is(w, s) {
			t.Errorf("%s does not survive wrapping", name)
		}
		for other, o := range sentinels {
			if other != name && errors.Is(s, o) {
				t.Errorf("errors.Is(%s, %s): two sentinels for one failure", name, other)
			}
		}
	}
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	_ = cause
	for _, tc := range []struct {
		name  string
		err   error
		as    func(error) bool
		kinds []error
		not   []error
	}{
		{"PolicyError", &PolicyError{Field: "KeepLast", Value: -1, Reason: "negative"}, func(err error) bool { var e *PolicyError; return errors.As(err, &e) }, []error{ErrInvalidPolicy}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := fmt.Errorf("op target: %w", tc.err)
			if !tc.as(w) {
				t.Errorf("errors.As(%v) finds no %s", w, tc.name)
			}
			for _, k := range tc.kinds {
				if !errors.Is(w, k) {
					t.Errorf("errors.Is(%v, %v) = false", w, k)
				}
			}
			for _, k := range tc.not {
				if errors.Is(w, k) {
					t.Errorf("errors.Is(%v, %v) = true", w, k)
				}
			}
			if tc.err.Error() == "" {
				t.Error("empty message")
			}
		})
	}
}

// TestPolicyValidate produces *PolicyError through Policy.Validate.
func TestPolicyValidate(t *testing.T) {
	var pe *PolicyError
	if err := (Policy{KeepLast: -1}).Validate(); !errors.As(err, &pe) || pe.Field != "KeepLast" {
		t.Fatalf("Validate = %v, want a *PolicyError for KeepLast", err)
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
