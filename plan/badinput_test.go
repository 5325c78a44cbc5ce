package plan

import (
	"context"
	"errors"
	"testing"
)

// TestNilPlan: Run, Validate and Describe of a nil *Plan (a builder's
// result after its error was ignored) refuse it instead of panicking.
func TestNilPlan(t *testing.T) {
	var p *Plan
	if err := p.Validate(); !errors.Is(err, ErrInvalidPlan) {
		t.Errorf("nil Plan: Validate = %v, want ErrInvalidPlan", err)
	}
	if err := p.Run(t.Context(), RunOptions{}); !errors.Is(err, ErrInvalidPlan) {
		t.Errorf("nil Plan: Run = %v, want ErrInvalidPlan", err)
	}
	if p.Describe() == "" {
		t.Error("nil Plan: Describe is empty")
	}
}

// TestFanoutSubStepReusingAnID: a Fanout whose sub-step has the ID of a
// step of the plan (or of another Fanout's sub-step) fails with
// ErrInvalidPlan before any sub-step runs, so a State never records the
// other step as finished (which would skip it on resume).
func TestFanoutSubStepReusingAnID(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps func(ran map[string]bool) []Step
		clash string
	}{
		{"a later step's ID", func(ran map[string]bool) []Step {
			return []Step{
				{ID: "fan", Fanout: func(context.Context) ([]Step, error) {
					return []Step{{ID: "later", Run: func(context.Context, func(string)) error { ran["fan:later"] = true; return nil }}}, nil
				}},
				{ID: "later", Run: func(context.Context, func(string)) error { ran["later"] = true; return nil }},
			}
		}, "later"},
		{"the parent's ID", func(ran map[string]bool) []Step {
			return []Step{{ID: "fan", Fanout: func(context.Context) ([]Step, error) {
				return []Step{{ID: "fan", Run: func(context.Context, func(string)) error { ran["fan:fan"] = true; return nil }}}, nil
			}}}
		}, "fan"},
		{"another fanout's sub-step", func(ran map[string]bool) []Step {
			sub := func(context.Context) ([]Step, error) {
				return []Step{{ID: "node/master-0", Run: func(context.Context, func(string)) error { ran["node/master-0"] = true; return nil }}}, nil
			}
			return []Step{{ID: "a", Fanout: sub}, {ID: "b", Fanout: sub}}
		}, "node/master-0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := map[string]bool{}
			state := memState{}
			err := (&Plan{Name: "p", Steps: tc.steps(ran)}).Run(t.Context(), RunOptions{State: state})
			if !errors.Is(err, ErrInvalidPlan) {
				t.Fatalf("Run = %v, want ErrInvalidPlan", err)
			}
			var se *StepError
			if !errors.As(err, &se) {
				t.Errorf("Run = %v, want a *StepError naming the Fanout step", err)
			}
			if tc.clash != "node/master-0" && len(ran) > 0 {
				t.Errorf("sub-steps ran: %v", ran)
			}
			if tc.clash == "later" && state["later"] {
				t.Error("the later step is recorded as finished though it never ran")
			}
		})
	}
}
