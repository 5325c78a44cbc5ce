package etcdconn

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrCA": ErrCA, "ErrClientRejected": ErrClientRejected, "ErrKeyPair": ErrKeyPair,
		"ErrNoEndpoints": ErrNoEndpoints, "ErrOnlyLearners": ErrOnlyLearners, "ErrServerUntrusted": ErrServerUntrusted, "ErrUnreachable": ErrUnreachable,
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
		{"ConfigError", &ConfigError{Setting: "ETCDCTL_CACERT", Path: "/ca", Kind: ErrCA, Err: cause}, func(err error) bool { var e *ConfigError; return errors.As(err, &e) }, []error{ErrCA, cause}, []error{ErrKeyPair}},
		{"ConnectError", &ConnectError{Endpoints: []string{"https://127.0.0.1:1"}, Kind: ErrOnlyLearners, Err: cause}, func(err error) bool { var e *ConnectError; return errors.As(err, &e) }, []error{ErrUnreachable, ErrOnlyLearners, cause}, []error{ErrCA}},
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
