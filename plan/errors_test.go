package plan

import (
	"context"
	"errors"
	"io/fs"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrInvalidPlan": ErrInvalidPlan, "ErrSkipped": ErrSkipped, "ErrNothingChanged": ErrNothingChanged,
	}
	errtest.Sentinels(t, sentinels)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind (when it has one) and its cause.
func TestTypedErrors(t *testing.T) {
	cause := fs.ErrPermission
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "FanoutError", Err: &FanoutError{Step: "s", Failed: []string{"h1"}, Errs: []error{cause}}, As: errtest.As[*FanoutError], Kinds: []error{cause}},
		{Name: "StepError", Err: &StepError{Plan: "p", Step: "s", Err: cause}, As: errtest.As[*StepError], Kinds: []error{cause}},
		{Name: "StepError of a refusal", Err: &StepError{Plan: "p", Step: "s", Err: cause, NothingChanged: true}, As: errtest.As[*StepError], Kinds: []error{ErrNothingChanged, cause}},
		{Name: "StepError after a change", Err: &StepError{Plan: "p", Step: "s", Err: cause}, As: errtest.As[*StepError], Kinds: []error{cause}, Not: []error{ErrNothingChanged}},
		// A step that panicked: lifeboat.ErrPanicked (declared in package
		// lifeboat for every package) through the *StepError, never
		// ErrSkipped even when the panic's value wraps it (TestStepPanics
		// produces both through Run).
		{Name: "StepError of a panic", Err: &StepError{Plan: "p", Step: "s", Err: &lifeboat.PanicError{Op: "plan.Step.Run", Value: cause}},
			As: errtest.As[*lifeboat.PanicError], Kinds: []error{lifeboat.ErrPanicked, cause}, Not: []error{ErrSkipped, ErrInvalidPlan}},
	})
}

// TestValidateRefusesBadPlans produces ErrInvalidPlan through Validate.
func TestValidateRefusesBadPlans(t *testing.T) {
	run := func(ctx context.Context, progress func(string)) error { return nil }
	for _, tc := range []struct {
		name  string
		steps []Step
	}{
		{"no ID", []Step{{Run: run}}},
		{"two steps with one ID", []Step{{ID: "a", Run: run}, {ID: "a", Run: run}}},
		{"neither Run nor Fanout", []Step{{ID: "a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plan{Name: "p", Steps: tc.steps}
			if err := p.Validate(); !errors.Is(err, ErrInvalidPlan) {
				t.Fatalf("Validate = %v, want ErrInvalidPlan", err)
			}
		})
	}
}
