package plan

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
)

// panicState is a memState whose MarkFinished panics for one ID.
type panicState struct {
	memState
	panicOn string
}

func (s panicState) MarkFinished(ctx context.Context, id string) error {
	if id == s.panicOn {
		panic("state store broke")
	}
	return s.memState.MarkFinished(ctx, id)
}

// wantPanic checks that err is a step's panic: ErrPanicked through the
// *StepError, a *lifeboat.PanicError naming op and value.
func wantPanic(t *testing.T, err error, op, value string) {
	t.Helper()
	var se *StepError
	var pe *lifeboat.PanicError
	if !errors.Is(err, lifeboat.ErrPanicked) || !errors.As(err, &se) || !errors.As(err, &pe) {
		t.Fatalf("Run = %v, want a *StepError wrapping a *lifeboat.PanicError", err)
	}
	if pe.Op != op || !strings.Contains(err.Error(), op+" panicked: "+value) || pe.Stack == "" {
		t.Errorf("Run = %v (op %q, stack %q), want op %q and value %q", err, pe.Op, pe.Stack, op, value)
	}
}

// TestStepPanics: a step whose code panics fails as if it returned an
// error (sequentially and in a fan-out, where the panic is on a goroutine
// Run started), is not recorded as finished, and runs again on resume.
func TestStepPanics(t *testing.T) {
	ok := func(context.Context, func(string)) error { return nil }
	boom := func(context.Context, func(string)) error { panic("boom") }
	var nilMap map[string]bool
	for _, tc := range []struct {
		name      string
		steps     []Step
		dry       bool
		op, value string
		wantRan   []string // steps recorded in the State
		wantFail  []string // Failed events
	}{
		{
			name:  "run",
			steps: []Step{{ID: "a", Run: ok}, {ID: "b", Run: boom}, {ID: "c", Run: ok}},
			op:    "plan.Step.Run", value: "boom",
			wantRan: []string{"a"}, wantFail: []string{"b"},
		},
		{
			name:  "run faults",
			steps: []Step{{ID: "a", Run: func(context.Context, func(string)) error { nilMap["x"] = true; return nil }}},
			op:    "plan.Step.Run", value: "assignment to entry in nil map",
			wantFail: []string{"a"},
		},
		{
			name:  "panic of a skip is a failure",
			steps: []Step{{ID: "a", Run: func(context.Context, func(string)) error { panic(Skip("nothing")) }}},
			op:    "plan.Step.Run", value: "skipped: nothing",
			wantFail: []string{"a"},
		},
		{
			name: "sub-step",
			steps: []Step{{ID: "fan", Fanout: func(context.Context) ([]Step, error) {
				return []Step{{ID: "h1", Run: ok}, {ID: "h2", Run: boom}, {ID: "h3", Run: ok}}, nil
			}}, {ID: "c", Run: ok}},
			op: "plan.Step.Run", value: "boom",
			wantRan: []string{"h1", "h3"}, wantFail: []string{"h2", "fan"},
		},
		{
			name: "sub-step listing",
			steps: []Step{{ID: "fan", Fanout: func(context.Context) ([]Step, error) {
				panic("listing broke")
			}}},
			op: "plan.Step.Fanout", value: "listing broke",
			wantFail: []string{"fan"},
		},
		{
			name: "dry run",
			steps: []Step{{ID: "a", Run: ok, DryRun: func(context.Context, func(string)) (string, error) {
				panic("dry boom")
			}}},
			dry: true, op: "plan.Step.DryRun", value: "dry boom",
			wantFail: []string{"a"},
		},
		{
			name: "dry-run sub-step",
			steps: []Step{{ID: "fan", Fanout: func(context.Context) ([]Step, error) {
				return []Step{{ID: "h1", Run: ok, DryRun: func(context.Context, func(string)) (string, error) { panic("dry boom") }}}, nil
			}}},
			dry: true, op: "plan.Step.DryRun", value: "dry boom",
			wantFail: []string{"h1", "fan"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plan{Name: "p", Steps: tc.steps}
			state := memState{}
			var mu sync.Mutex
			var failed []string
			err := p.Run(t.Context(), RunOptions{State: state, DryRun: tc.dry, Report: func(e Event) {
				if e.Status == Failed {
					mu.Lock()
					failed = append(failed, e.Step.ID)
					mu.Unlock()
				}
			}})
			wantPanic(t, err, tc.op, tc.value)
			if got, want := strings.Join(failed, ","), strings.Join(tc.wantFail, ","); got != want {
				t.Errorf("Failed events for %s, want %s", got, want)
			}
			if len(state) != len(tc.wantRan) {
				t.Errorf("State = %v, want %v", state, tc.wantRan)
			}
			for _, id := range tc.wantRan {
				if !state[id] {
					t.Errorf("State = %v, want %v", state, tc.wantRan)
				}
			}
		})
	}
}

// TestResumeRunsThePanickedStepAgain: the step that panicked is not
// recorded, so the next run with the same State runs it (and only it and
// what follows).
func TestResumeRunsThePanickedStepAgain(t *testing.T) {
	state := memState{}
	var ran []string
	broken := true
	step := func(id string) Step {
		return Step{ID: id, Run: func(context.Context, func(string)) error {
			ran = append(ran, id)
			if id == "b" && broken {
				panic("boom")
			}
			return nil
		}}
	}
	p := &Plan{Name: "p", Steps: []Step{step("a"), step("b"), step("c")}}
	if err := p.Run(t.Context(), RunOptions{State: state}); !errors.Is(err, lifeboat.ErrPanicked) {
		t.Fatalf("first Run = %v, want ErrPanicked", err)
	}
	broken = false
	if err := p.Run(t.Context(), RunOptions{State: state}); err != nil {
		t.Fatalf("second Run = %v", err)
	}
	if got, want := strings.Join(ran, ","), "a,b,b,c"; got != want {
		t.Errorf("ran %s, want %s", got, want)
	}
}

// TestStatePanics: a State method that panics (MarkFinished on a fan-out
// goroutine, Finished before anything runs) fails Run instead of the
// process.
func TestStatePanics(t *testing.T) {
	ok := func(context.Context, func(string)) error { return nil }
	p := &Plan{Name: "p", Steps: []Step{{ID: "fan", Fanout: func(context.Context) ([]Step, error) {
		return []Step{{ID: "h1", Run: ok}, {ID: "h2", Run: ok}}, nil
	}}}}
	state := panicState{memState: memState{}, panicOn: "h2"}
	err := p.Run(t.Context(), RunOptions{State: state})
	wantPanic(t, err, "plan.State.MarkFinished", "state store broke")
	if !state.memState["h1"] || state.memState["h2"] || state.memState["fan"] {
		t.Errorf("State = %v, want h1 only", state.memState)
	}

	err = p.Run(t.Context(), RunOptions{State: finishedPanics{}})
	var pe *lifeboat.PanicError
	if !errors.As(err, &pe) || pe.Op != "plan.State.Finished" {
		t.Fatalf("Run = %v, want the panic of State.Finished", err)
	}
}

type finishedPanics struct{ memState }

func (finishedPanics) Finished(context.Context) (map[string]bool, error) { panic("no state") }

// TestReportPanics: a Report callback that panics, on Run's goroutine or
// on a fan-out's, is called no more; the step under way ends and is
// recorded; Run returns the panic and runs no further step.
func TestReportPanics(t *testing.T) {
	for _, tc := range []struct {
		name    string
		panicOn func(Event) bool
		wantRan string // steps whose Run was called
		wantRec []string
		stepErr bool
	}{
		{"started", func(e Event) bool { return e.Status == Started }, "a", []string{"a"}, false},
		{"progress of a sub-step", func(e Event) bool { return e.Status == Progress && e.Step.ID == "h1" }, "a,h1,h2", []string{"a", "h1", "h2", "fan"}, false},
		{"failed", func(e Event) bool { return e.Status == Failed }, "a,h1,h2,x", []string{"a", "h1", "h2", "fan"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var ran []string
			run := func(id string, fail bool) func(context.Context, func(string)) error {
				return func(ctx context.Context, progress func(string)) error {
					mu.Lock()
					ran = append(ran, id)
					mu.Unlock()
					progress("working")
					if fail {
						return errors.New("x failed")
					}
					return nil
				}
			}
			p := &Plan{Name: "p", Steps: []Step{
				{ID: "a", Run: run("a", false)},
				{ID: "fan", Fanout: func(context.Context) ([]Step, error) {
					return []Step{{ID: "h1", Run: run("h1", false)}, {ID: "h2", Run: run("h2", false)}}, nil
				}},
				{ID: "x", Run: run("x", true)},
				{ID: "z", Run: run("z", false)},
			}}
			state := memState{}
			var calls, panics atomic.Int32
			err := p.Run(t.Context(), RunOptions{State: state, Report: func(e Event) {
				calls.Add(1)
				if tc.panicOn(e) {
					panics.Add(1)
					panic("report broke")
				}
			}})
			var pe *lifeboat.PanicError
			if !errors.Is(err, lifeboat.ErrPanicked) || !errors.As(err, &pe) || pe.Op != "plan.RunOptions.Report" {
				t.Fatalf("Run = %v, want the panic of RunOptions.Report", err)
			}
			var se *StepError
			if errors.As(err, &se) != tc.stepErr {
				t.Errorf("Run = %v, want a *StepError too: %v", err, tc.stepErr)
			}
			if panics.Load() != 1 {
				t.Errorf("Report panicked %d times (%d calls), want once: not called after its panic", panics.Load(), calls.Load())
			}
			mu.Lock()
			defer mu.Unlock()
			// sub-steps run concurrently: compare as sets.
			got := strings.Split(strings.Join(ran, ","), ",")
			want := strings.Split(tc.wantRan, ",")
			if len(got) != len(want) {
				t.Errorf("ran %v, want %v", got, want)
			}
			for _, id := range tc.wantRec {
				if !state[id] {
					t.Errorf("State = %v, want %v recorded", state, tc.wantRec)
				}
			}
			if len(state) != len(tc.wantRec) {
				t.Errorf("State = %v, want %v", state, tc.wantRec)
			}
		})
	}
}
