package etcdconn

import (
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrCA": ErrCA, "ErrClientRejected": ErrClientRejected, "ErrKeyPair": ErrKeyPair,
		"ErrNoEndpoints": ErrNoEndpoints, "ErrOnlyLearners": ErrOnlyLearners, "ErrServerUntrusted": ErrServerUntrusted, "ErrUnreachable": ErrUnreachable,
	}
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "ConfigError", Err: &ConfigError{Setting: "ETCDCTL_CACERT", Path: "/ca", Kind: ErrCA, Err: cause}, As: errtest.As[*ConfigError], Kinds: []error{ErrCA, cause}, Not: []error{ErrKeyPair}},
		{Name: "ConnectError", Err: &ConnectError{Endpoints: []string{"https://127.0.0.1:1"}, Kind: ErrOnlyLearners, Err: cause}, As: errtest.As[*ConnectError], Kinds: []error{ErrUnreachable, ErrOnlyLearners, cause}, Not: []error{ErrCA}},
	})
}
