package freshness

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-dev/lifeboat"
)

// TestRecordScrub: the scrub series appear once a scrub is recorded, the
// later scrub wins, a textfile carries them to the next run, and invalid
// scrubs are refused without a change.
func TestRecordScrub(t *testing.T) {
	r := newRecorder(t, Options{})
	if err := r.Record(Attempt{Destination: "s3", Finished: t1}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(r, lastScrubTimestamp, lastScrubBackups, lastScrubCorruptBackups); n != 0 {
		t.Errorf("%d scrub series before any scrub", n)
	}
	for _, s := range []Scrub{
		{Destination: "s3", Finished: t2, Backups: 7, Corrupt: 2},
		{Destination: "s3", Finished: t1, Backups: 6}, // older: ignored
	} {
		if err := r.RecordScrub(s); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP lifeboat_backup_last_scrub_backups Backups the last scrub of the destination checked.
# TYPE lifeboat_backup_last_scrub_backups gauge
lifeboat_backup_last_scrub_backups{destination="s3"} 7
# HELP lifeboat_backup_last_scrub_corrupt_backups Backups the last scrub of the destination found corrupt or missing.
# TYPE lifeboat_backup_last_scrub_corrupt_backups gauge
lifeboat_backup_last_scrub_corrupt_backups{destination="s3"} 2
# HELP lifeboat_backup_last_scrub_timestamp_seconds Unix time the last scrub of the backups stored at the destination finished.
# TYPE lifeboat_backup_last_scrub_timestamp_seconds gauge
lifeboat_backup_last_scrub_timestamp_seconds{destination="s3"} 1.7960913e+09
`
	if err := testutil.CollectAndCompare(r, strings.NewReader(want), lastScrubTimestamp, lastScrubBackups, lastScrubCorruptBackups); err != nil {
		t.Error(err)
	}

	path := filepath.Join(t.TempDir(), "lifeboat_backup.prom")
	if err := WriteTextfile(path, r); err != nil {
		t.Fatal(err)
	}
	next := newRecorder(t, Options{})
	if err := ReadTextfile(path, next); err != nil {
		t.Fatal(err)
	}
	if s, _ := next.State("s3"); !s.LastScrub.Equal(t2) || s.ScrubBackups != 7 || s.ScrubCorrupt != 2 {
		t.Errorf("state read back: %+v", s)
	}

	before, _ := r.State("s3")
	for _, bad := range []Scrub{
		{Finished: t2},
		{Destination: "\xff", Finished: t2},
		{Destination: "s3"},
		{Destination: "s3", Finished: t2.Add(time.Hour), Backups: -1},
		{Destination: "s3", Finished: t2.Add(time.Hour), Backups: 1, Corrupt: 2},
	} {
		if err := r.RecordScrub(bad); !errors.Is(err, lifeboat.ErrInvalidOptions) {
			t.Errorf("RecordScrub(%+v) = %v, want lifeboat.ErrInvalidOptions", bad, err)
		}
	}
	if after, _ := r.State("s3"); after != before {
		t.Errorf("a refused scrub changed the state: %+v", after)
	}
	var nilRec *Recorder
	if err := nilRec.RecordScrub(Scrub{Destination: "s3", Finished: t2}); !errors.Is(err, lifeboat.ErrInvalidOptions) {
		t.Errorf("nil Recorder: %v", err)
	}
}
