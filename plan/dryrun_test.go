package plan

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestDryRun(t *testing.T) {
	boom := errors.New("unreadable")
	tests := []struct {
		name       string
		previewErr error
		wantRan    []string
		wantEvents []string // "<id> <status>[: message]" of end events
		wantErr    error
	}{
		{
			name:       "read-only steps run, the others report what they would do",
			wantRan:    []string{"check"},
			wantEvents: []string{"check done", "change would run", "approve would run: would approve csr-1", "list/a would run", "list/b would run"},
		},
		{
			name:       "a failing preview fails the dry run",
			previewErr: boom,
			wantRan:    []string{"check"},
			wantEvents: []string{"check done", "change would run", "approve failed"},
			wantErr:    boom,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			mutate := func(id string) func(context.Context, func(string)) error {
				return func(context.Context, func(string)) error { ran = append(ran, id); return nil }
			}
			p := &Plan{Name: "dry", Steps: []Step{
				{ID: "check", ReadOnly: true, Run: mutate("check")},
				{ID: "change", Run: mutate("change")},
				{ID: "approve", Run: mutate("approve"), DryRun: func(context.Context, func(string)) (string, error) {
					return "would approve csr-1", tt.previewErr
				}},
				{ID: "list", Fanout: func(context.Context) ([]Step, error) {
					return []Step{{ID: "list/a", Run: mutate("a")}, {ID: "list/b", Run: mutate("b")}}, nil
				}, MaxParallel: 1},
			}}
			state := memState{}
			var ends []string
			err := p.Run(t.Context(), RunOptions{DryRun: true, State: state, Report: func(e Event) {
				if e.Status == Started || e.Status == Progress || e.Step.Fanout != nil {
					return
				}
				s := e.Step.ID + " " + string(e.Status)
				if e.Message != "" {
					s += ": " + e.Message
				}
				ends = append(ends, s)
			}})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(ran, tt.wantRan) {
				t.Errorf("ran %q, want %q", ran, tt.wantRan)
			}
			if !slices.Equal(ends, tt.wantEvents) {
				t.Errorf("events %q, want %q", ends, tt.wantEvents)
			}
			if len(state) != 0 {
				t.Errorf("a dry run recorded %v in the state", state)
			}
		})
	}
}

func TestValidateBeforeAnyStep(t *testing.T) {
	tests := []struct {
		name  string
		steps []Step
	}{
		{"no Run nor Fanout", []Step{{ID: "a"}}},
		{"both Run and Fanout", []Step{{ID: "a", Run: func(context.Context, func(string)) error { return nil },
			Fanout: func(context.Context) ([]Step, error) { return nil, nil }}}},
		{"duplicate ID", []Step{{ID: "a", Run: func(context.Context, func(string)) error { return nil }}, {ID: "a"}}},
		{"empty ID", []Step{{Run: func(context.Context, func(string)) error { return nil }}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			steps := append([]Step{{ID: "first", Run: func(context.Context, func(string)) error { ran = true; return nil }}}, tt.steps...)
			err := (&Plan{Name: "bad", Steps: steps}).Run(t.Context(), RunOptions{})
			if !errors.Is(err, ErrInvalidPlan) {
				t.Fatalf("err = %v, want ErrInvalidPlan", err)
			}
			if ran {
				t.Error("a step ran before the plan was found invalid")
			}
		})
	}
}

// TestIsDryRun: a step's context tells a dry run from a real one, so a
// read-only check can skip recording what it found.
func TestIsDryRun(t *testing.T) {
	for _, dry := range []bool{false, true} {
		var saw []bool
		probe := func(ctx context.Context, _ func(string)) error { saw = append(saw, IsDryRun(ctx)); return nil }
		p := &Plan{Name: "probe", Steps: []Step{
			{ID: "check", ReadOnly: true, Run: probe},
			{ID: "change", Run: probe, DryRun: func(ctx context.Context, _ func(string)) (string, error) {
				saw = append(saw, IsDryRun(ctx))
				return "", nil
			}},
		}}
		if err := p.Run(t.Context(), RunOptions{DryRun: dry}); err != nil {
			t.Fatal(err)
		}
		if want := []bool{dry, dry}; !slices.Equal(saw, want) {
			t.Errorf("DryRun %v: steps saw IsDryRun %v, want %v", dry, saw, want)
		}
	}
	if IsDryRun(t.Context()) {
		t.Error("IsDryRun of a context outside any run is true")
	}
}
