package restore

import (
	"context"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestRunRecordsTimesByItsClock: every time the run writes into its state
// (the moves aside) comes from Options.Now, not the wall clock, and so do
// the events' times; with Options.Now nil, plan.RunOptions.Now is the
// clock of both.
func TestRunRecordsTimesByItsClock(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	clock := func() time.Time { return at }
	for _, tc := range []struct {
		name string
		set  func(o *job)
	}{
		{"Options.Now", func(o *job) { o.Options.Now = clock }},
		{"RunOptions.Now", func(o *job) { o.RunOptions.Now = clock }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts := f.options("master-0")
			tc.set(&opts)
			var evs []plan.Event
			opts.Report = collect(&evs)
			d, err := runJob(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Moves) == 0 || len(evs) == 0 {
				t.Fatalf("the run recorded %d moves and reported %d events", len(d.Moves), len(evs))
			}
			for _, m := range d.Moves {
				if !m.Time.Equal(at) {
					t.Errorf("move %s -> %s on %s recorded at %s, want the clock's %s", m.From, m.To, m.Host, m.Time, at)
				}
			}
			for _, e := range evs {
				if !e.Time.Equal(at) {
					t.Fatalf("event %s stamped %s, want the clock's %s", e, e.Time, at)
				}
			}
		})
	}
}
