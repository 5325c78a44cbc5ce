package plan

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// memState is a State kept in memory.
type memState map[string]bool

func (m memState) Finished(context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for k, v := range m {
		out[k] = v
	}
	return out, nil
}

func (m memState) MarkFinished(_ context.Context, id string) error { m[id] = true; return nil }

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		fail      string // step ID that fails
		skip      string // step ID that skips
		finished  []string
		wantRan   string
		wantErr   error
		wantEvent string
	}{
		{name: "all steps run in order", wantRan: "abc", wantEvent: "c done"},
		{name: "failure stops the plan", fail: "b", wantRan: "ab", wantErr: boom, wantEvent: "b failed"},
		{name: "skip continues", skip: "b", wantRan: "abc", wantEvent: "b skipped"},
		{name: "resume skips finished steps", finished: []string{"a", "b"}, wantRan: "c", wantEvent: "a skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran strings.Builder
			step := func(id string) Step {
				return Step{ID: id, Description: "step " + id, Run: func(ctx context.Context, progress func(string)) error {
					ran.WriteString(id)
					progress("working on " + id)
					switch id {
					case tt.fail:
						return boom
					case tt.skip:
						return Skip("nothing to do")
					}
					return nil
				}}
			}
			p := &Plan{Name: "test", Steps: []Step{step("a"), step("b"), step("c")}}
			state := memState{}
			for _, id := range tt.finished {
				state[id] = true
			}
			var events []string
			err := p.Run(context.Background(), RunOptions{State: state, Report: func(e Event) {
				events = append(events, e.Step.ID+" "+string(e.Status))
			}})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				var se *StepError
				if !errors.As(err, &se) || se.Step != tt.fail {
					t.Fatalf("Run error = %#v, want a *StepError for step %s", err, tt.fail)
				}
				if state[tt.fail] {
					t.Errorf("failed step %s recorded as finished", tt.fail)
				}
			}
			if got := ran.String(); got != tt.wantRan {
				t.Errorf("steps run = %q, want %q", got, tt.wantRan)
			}
			if !strings.Contains(strings.Join(events, ","), tt.wantEvent) {
				t.Errorf("events %v lack %q", events, tt.wantEvent)
			}
		})
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := 0
	p := &Plan{Name: "cancel", Steps: []Step{
		{ID: "a", Run: func(context.Context, func(string)) error { ran++; cancel(); return nil }},
		{ID: "b", Run: func(context.Context, func(string)) error { ran++; return nil }},
	}}
	err := p.Run(ctx, RunOptions{})
	if !errors.Is(err, context.Canceled) || ran != 1 {
		t.Fatalf("Run = %v after %d steps, want context.Canceled after 1", err, ran)
	}
}

func TestReportBytes(t *testing.T) {
	var events []Event
	p := &Plan{Name: "copy", Steps: []Step{{ID: "download", Description: "download", Run: func(ctx context.Context, progress func(string)) error {
		progress("starting")
		ReportBytes(ctx, "downloading", 3<<20, 10<<20)
		ReportBytes(ctx, "downloading", 10<<20, 0)
		return nil
	}}}}
	if err := p.Run(t.Context(), RunOptions{Report: func(e Event) { events = append(events, e) }}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		got = append(got, e.String())
	}
	want := []string{
		"[1/1] download started: download",
		"[1/1] download progress: starting",
		"[1/1] download progress: downloading (3.0 MiB of 10.0 MiB)",
		"[1/1] download progress: downloading (10.0 MiB)",
		"[1/1] download done",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if e := events[2]; e.BytesDone != 3<<20 || e.BytesTotal != 10<<20 || e.Status != Progress {
		t.Errorf("event %+v", e)
	}
	// Outside a plan it does nothing (and does not panic).
	ReportBytes(t.Context(), "nothing", 1, 2)
}
