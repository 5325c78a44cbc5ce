package member

import (
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrAnotherRunUnfinished": ErrAnotherRunUnfinished, "ErrMemberHealthy": ErrMemberHealthy, "ErrMemberNotFound": ErrMemberNotFound,
		"ErrNoMachine": ErrNoMachine, "ErrNoUnhealthyMember": ErrNoUnhealthyMember, "ErrQuorumLost": ErrQuorumLost, "ErrWouldLoseQuorum": ErrWouldLoseQuorum,
	}
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "QuorumLostError", Err: &QuorumLostError{Healthy: 1, Voting: 3, Unhealthy: []string{"a", "b"}, Source: "member health checks"}, As: errtest.As[*QuorumLostError], Kinds: []error{ErrQuorumLost}, Not: []error{ErrWouldLoseQuorum}},
		{Name: "NoMachineError", Err: &NoMachineError{Node: "master-0", Namespace: "openshift-machine-api"}, As: errtest.As[*NoMachineError], Kinds: []error{ErrNoMachine}},
		{Name: "AnotherRunError", Err: &AnotherRunError{ConfigMap: "cm", Differences: []string{"member"}}, As: errtest.As[*AnotherRunError], Kinds: []error{ErrAnotherRunUnfinished}},
	})
}
