package restore

import (
	"context"
	"testing"
	"time"
)

// TestRunRecordsTimesByItsClock: every time the run writes into its state
// (the moves aside) comes from Options.Now, not the wall clock.
func TestRunRecordsTimesByItsClock(t *testing.T) {
	f := newFixture(t)
	opts := f.options("master-0")
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	opts.Options.Now = func() time.Time { return at }
	d, err := runJob(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Moves) == 0 {
		t.Fatal("the run recorded no moves")
	}
	for _, m := range d.Moves {
		if !m.Time.Equal(at) {
			t.Errorf("move %s -> %s on %s recorded at %s, want the clock's %s", m.From, m.To, m.Host, m.Time, at)
		}
	}
}
