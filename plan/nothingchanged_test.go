package plan

import (
	"context"
	"errors"
	"testing"
)

// TestNothingChanged: a run's *StepError says (and matches
// ErrNothingChanged) when the run stopped before it changed anything: a
// failed ReadOnly check with no other step run before it and nothing
// finished by an earlier run, or any failure of a dry run; never once a
// step that changes things started or an earlier run finished one.
func TestNothingChanged(t *testing.T) {
	boom := errors.New("boom")
	ok := func(context.Context, func(string)) error { return nil }
	fail := func(context.Context, func(string)) error { return boom }
	check := func(id string, run func(context.Context, func(string)) error) Step {
		return Step{ID: id, ReadOnly: true, Run: run}
	}
	change := func(id string, run func(context.Context, func(string)) error) Step {
		return Step{ID: id, Run: run}
	}
	fanout := func(id string, readOnly bool, subs ...Step) Step {
		return Step{ID: id, ReadOnly: readOnly, Fanout: func(context.Context) ([]Step, error) { return subs, nil }}
	}
	for _, tc := range []struct {
		name     string
		steps    []Step
		finished []string
		dryRun   bool
		want     bool
	}{
		{"the first check fails", []Step{check("a", fail), change("b", ok)}, nil, false, true},
		{"a later check fails after checks only", []Step{check("a", ok), check("b", fail), change("c", ok)}, nil, false, true},
		{"a step that changes things fails", []Step{check("a", ok), change("b", fail)}, nil, false, false},
		{"a check fails after a change", []Step{change("a", ok), check("b", fail)}, nil, false, false},
		{"a check fails on resume", []Step{check("a", fail), change("b", ok)}, []string{"b"}, false, false},
		{"a read-only fan-out whose sub-step changes things", []Step{fanout("f", true, change("f/1", fail))}, nil, false, false},
		{"a read-only fan-out of checks", []Step{fanout("f", true, check("f/1", ok), check("f/2", fail))}, nil, false, true},
		{"a dry run's check fails", []Step{change("a", ok), check("b", fail)}, nil, true, true},
		{"a dry run's listing fails", []Step{{ID: "a", Run: ok, DryRun: func(context.Context, func(string)) (string, error) { return "", boom }}}, nil, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memState{}
			for _, id := range tc.finished {
				st[id] = true
			}
			err := (&Plan{Name: "p", Steps: tc.steps}).Run(t.Context(), RunOptions{State: st, DryRun: tc.dryRun})
			var se *StepError
			if !errors.As(err, &se) || !errors.Is(err, boom) {
				t.Fatalf("Run = %v, want a *StepError wrapping the step's error", err)
			}
			if se.NothingChanged != tc.want || errors.Is(err, ErrNothingChanged) != tc.want {
				t.Fatalf("NothingChanged = %v, errors.Is(ErrNothingChanged) = %v, want %v (%v)", se.NothingChanged, errors.Is(err, ErrNothingChanged), tc.want, err)
			}
		})
	}
}
