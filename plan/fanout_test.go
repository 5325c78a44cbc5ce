package plan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestFanout(t *testing.T) {
	boom := errors.New("host unreachable")
	tests := []struct {
		name        string
		n, parallel int
		fail        string
		finished    []string
		wantRan     int
		wantMax     int // highest concurrency allowed
		wantFailed  []string
	}{
		{name: "bound honoured", n: 7, parallel: 2, wantRan: 7, wantMax: 2},
		{name: "bound of one is sequential", n: 4, parallel: 1, wantRan: 4, wantMax: 1},
		{name: "zero runs all at once", n: 5, parallel: 0, wantRan: 5, wantMax: 5},
		{name: "a failure does not stop the others", n: 5, parallel: 2, fail: "nodes/n2", wantRan: 5, wantMax: 2, wantFailed: []string{"nodes/n2"}},
		{name: "resume repeats only unfinished sub-steps", n: 4, parallel: 4, finished: []string{"nodes/n0", "nodes/n3"}, wantRan: 2, wantMax: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			cur, peak, ran := 0, 0, 0
			gate := make(chan struct{})
			subs := func(context.Context) ([]Step, error) {
				var out []Step
				for i := range tt.n {
					id := fmt.Sprintf("nodes/n%d", i)
					out = append(out, Step{ID: id, Run: func(ctx context.Context, _ func(string)) error {
						mu.Lock()
						cur++
						ran++
						peak = max(peak, cur)
						mu.Unlock()
						// Hold every sub-step until the test saw enough of
						// them start, so that a missing bound shows.
						select {
						case <-gate:
						case <-time.After(200 * time.Millisecond):
						}
						mu.Lock()
						cur--
						mu.Unlock()
						if id == tt.fail {
							return boom
						}
						return nil
					}})
				}
				return out, nil
			}
			state := memState{}
			for _, id := range tt.finished {
				state[id] = true
			}
			p := &Plan{Name: "fan", Steps: []Step{{ID: "nodes", Fanout: subs, MaxParallel: tt.parallel}}}
			var evMu sync.Mutex
			var ends []string
			go func() { time.Sleep(50 * time.Millisecond); close(gate) }()
			err := p.Run(t.Context(), RunOptions{State: state, Report: func(e Event) {
				evMu.Lock()
				defer evMu.Unlock()
				if e.Status == Done || e.Status == Failed {
					ends = append(ends, e.Step.ID)
				}
			}})
			var fe *FanoutError
			switch {
			case tt.wantFailed == nil && err != nil:
				t.Fatal(err)
			case tt.wantFailed != nil && (!errors.As(err, &fe) || !slices.Equal(fe.Failed, tt.wantFailed) || !errors.Is(err, boom)):
				t.Fatalf("err = %v, want a FanoutError for %v wrapping %v", err, tt.wantFailed, boom)
			}
			if ran != tt.wantRan {
				t.Errorf("%d sub-steps ran, want %d", ran, tt.wantRan)
			}
			if peak > tt.wantMax {
				t.Errorf("%d sub-steps ran at once, the bound is %d", peak, tt.wantMax)
			}
			if tt.parallel > 1 && peak < 2 {
				t.Errorf("sub-steps never ran in parallel (peak %d)", peak)
			}
			if len(ends) != tt.wantRan+1 {
				t.Errorf("end events %q: want one per sub-step that ran and one for the parent", ends)
			}
			if tt.wantFailed == nil && !state["nodes"] {
				t.Error("the parent step was not recorded as finished")
			}
			if tt.wantFailed != nil && (state["nodes"] || state[tt.wantFailed[0]]) {
				t.Errorf("state %v records a failed step", state)
			}
		})
	}
}
