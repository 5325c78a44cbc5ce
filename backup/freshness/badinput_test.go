package freshness

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestZeroRecorder: a declared Recorder records, restores, collects and
// describes as NewRecorder(Options{})'s does, instead of panicking on
// its nil map or descriptions.
func TestZeroRecorder(t *testing.T) {
	made, err := NewRecorder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var zero Recorder
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range []*Recorder{made, &zero} {
		if err := r.Record(Attempt{Destination: "s3://a", Started: now.Add(-time.Minute), Finished: now, StoredBytes: 10}); err != nil {
			t.Fatalf("Record: %v", err)
		}
		r.Restore("s3://b", State{LastAttempt: now, LastSuccess: now})
		if err := r.RecordScrub(Scrub{Destination: "s3://a", Finished: now, Backups: 1}); err != nil {
			t.Fatalf("RecordScrub: %v", err)
		}
	}
	if got, want := testutil.CollectAndCount(&zero), testutil.CollectAndCount(made); got != want || want == 0 {
		t.Errorf("zero Recorder collects %d series, NewRecorder's %d", got, want)
	}
	var fresh Recorder
	if n := testutil.CollectAndCount(&fresh); n != 0 {
		t.Errorf("empty zero Recorder collects %d series", n)
	}
}
