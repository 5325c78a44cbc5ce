package freshness

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-dev/lifeboat"
)

var (
	t1 = time.Date(2026, 11, 30, 2, 15, 0, 0, time.UTC) // 1796004900
	t2 = t1.Add(24 * time.Hour)
)

func newRecorder(t *testing.T, opts Options) *Recorder {
	t.Helper()
	r, err := NewRecorder(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// recordTwoDays: local succeeds on day 1 and fails on day 2; s3 succeeds
// on day 2.
func recordTwoDays(t *testing.T, r *Recorder) {
	t.Helper()
	for _, a := range []Attempt{
		{Destination: "local", Started: t1.Add(-90 * time.Second), Finished: t1, SnapshotBytes: 1 << 30, ResourcesBytes: 65536, StoredBytes: 1<<30 + 65536},
		{Destination: "local", Started: t2.Add(-2500 * time.Millisecond), Finished: t2, Err: errors.New("etcdserver: request timed out")},
		{Destination: "s3", Started: t2.Add(-2 * time.Minute), Finished: t2, SnapshotBytes: 1 << 30, ResourcesBytes: 65536, StoredBytes: 300 << 20},
	} {
		if err := r.Record(a); err != nil {
			t.Fatal(err)
		}
	}
}

const wantTwoDays = `
# HELP lifeboat_backup_attempts_total Backup attempts to the destination.
# TYPE lifeboat_backup_attempts_total counter
lifeboat_backup_attempts_total{cluster="prod-1",destination="local"} 2
lifeboat_backup_attempts_total{cluster="prod-1",destination="s3"} 1
# HELP lifeboat_backup_failures_total Failed backup attempts to the destination.
# TYPE lifeboat_backup_failures_total counter
lifeboat_backup_failures_total{cluster="prod-1",destination="local"} 1
lifeboat_backup_failures_total{cluster="prod-1",destination="s3"} 0
# HELP lifeboat_backup_last_attempt_duration_seconds Duration of the last backup attempt to the destination in seconds.
# TYPE lifeboat_backup_last_attempt_duration_seconds gauge
lifeboat_backup_last_attempt_duration_seconds{cluster="prod-1",destination="local"} 2.5
lifeboat_backup_last_attempt_duration_seconds{cluster="prod-1",destination="s3"} 120
# HELP lifeboat_backup_last_attempt_success 1 if the last backup attempt to the destination succeeded, 0 if it failed.
# TYPE lifeboat_backup_last_attempt_success gauge
lifeboat_backup_last_attempt_success{cluster="prod-1",destination="local"} 0
lifeboat_backup_last_attempt_success{cluster="prod-1",destination="s3"} 1
# HELP lifeboat_backup_last_attempt_timestamp_seconds Unix time the last backup attempt to the destination finished.
# TYPE lifeboat_backup_last_attempt_timestamp_seconds gauge
lifeboat_backup_last_attempt_timestamp_seconds{cluster="prod-1",destination="local"} 1.7960913e+09
lifeboat_backup_last_attempt_timestamp_seconds{cluster="prod-1",destination="s3"} 1.7960913e+09
# HELP lifeboat_backup_last_success_resources_bytes Size of the static pod resources archive of the last successful backup in bytes.
# TYPE lifeboat_backup_last_success_resources_bytes gauge
lifeboat_backup_last_success_resources_bytes{cluster="prod-1",destination="local"} 65536
lifeboat_backup_last_success_resources_bytes{cluster="prod-1",destination="s3"} 65536
# HELP lifeboat_backup_last_success_snapshot_bytes Size of the etcd snapshot of the last successful backup in bytes.
# TYPE lifeboat_backup_last_success_snapshot_bytes gauge
lifeboat_backup_last_success_snapshot_bytes{cluster="prod-1",destination="local"} 1.073741824e+09
lifeboat_backup_last_success_snapshot_bytes{cluster="prod-1",destination="s3"} 1.073741824e+09
# HELP lifeboat_backup_last_success_stored_bytes Bytes the destination stores for the last successful backup (after compression and encryption).
# TYPE lifeboat_backup_last_success_stored_bytes gauge
lifeboat_backup_last_success_stored_bytes{cluster="prod-1",destination="local"} 1.07380736e+09
lifeboat_backup_last_success_stored_bytes{cluster="prod-1",destination="s3"} 3.145728e+08
# HELP lifeboat_backup_last_success_timestamp_seconds Unix time the last successful backup to the destination finished.
# TYPE lifeboat_backup_last_success_timestamp_seconds gauge
lifeboat_backup_last_success_timestamp_seconds{cluster="prod-1",destination="local"} 1.7960049e+09
lifeboat_backup_last_success_timestamp_seconds{cluster="prod-1",destination="s3"} 1.7960913e+09
`

func TestRecorderCollect(t *testing.T) {
	if t1.Unix() != 1796004900 {
		t.Fatalf("t1 is %d: fix the expected values", t1.Unix())
	}
	r := newRecorder(t, Options{ConstLabels: map[string]string{"cluster": "prod-1"}})
	recordTwoDays(t, r)
	if err := testutil.CollectAndCompare(r, strings.NewReader(wantTwoDays)); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(r)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
	// Registering in a pedantic registry checks Describe against Collect.
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	// Two Recorders are independent (no package state) and each can be
	// registered in its own registry.
	other := newRecorder(t, Options{})
	if n := testutil.CollectAndCount(other); n != 0 {
		t.Errorf("a new Recorder collects %d series", n)
	}
	if err := prometheus.NewRegistry().Register(other); err != nil {
		t.Fatal(err)
	}
}

func TestRecorderNoSuccessYet(t *testing.T) {
	r := newRecorder(t, Options{})
	if err := r.Record(Attempt{Destination: "local", Finished: t1, Err: errors.New("boom")}); err != nil {
		t.Fatal(err)
	}
	// No last_success series until a success is known: the rule's
	// "attempts but never a success" branch covers that case.
	if n := testutil.CollectAndCount(r, LastSuccessTimestamp, LastSuccessSnapshotBytes); n != 0 {
		t.Errorf("%d last-success series before any success", n)
	}
	if n := testutil.CollectAndCount(r, lastAttemptTimestamp, LastAttemptSuccess, FailuresTotal); n != 3 {
		t.Errorf("%d attempt series, want 3", n)
	}
}

func TestRecorderOutOfOrder(t *testing.T) {
	r := newRecorder(t, Options{})
	for _, a := range []Attempt{
		{Destination: "d", Finished: t2, Err: errors.New("late failure")},
		{Destination: "d", Finished: t1, SnapshotBytes: 5}, // an older run reporting late
		{Destination: "d", Finished: t1.Add(-time.Hour), SnapshotBytes: 7},
	} {
		if err := r.Record(a); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := r.State("d")
	// The late report is still the last success; the last attempt stays
	// the later failure.
	if !s.LastAttempt.Equal(t2) || s.LastAttemptOK || !s.LastSuccess.Equal(t1) || s.SnapshotBytes != 5 || s.Attempts != 3 || s.Failures != 1 {
		t.Errorf("state %+v", s)
	}
}

func TestRecorderRefuses(t *testing.T) {
	for _, labels := range []map[string]string{
		{"destination": "x"}, {"job": "x"}, {"instance": "x"}, {"__name__": "x"}, {"bad-name": "x"}, {"cluster": ""},
		{"cluster": "prod-\xff"},
	} {
		if _, err := NewRecorder(Options{ConstLabels: labels}); !errors.Is(err, lifeboat.ErrInvalidOptions) {
			t.Errorf("ConstLabels %v: %v", labels, err)
		}
	}
	r := newRecorder(t, Options{})
	for name, a := range map[string]Attempt{
		"no destination": {Finished: t1},
		"no finish time": {Destination: "d"},
		"negative size":  {Destination: "d", Finished: t1, StoredBytes: -1},
		// A label value Collect could not emit: every scrape would fail.
		"destination not UTF-8": {Destination: "s3-\xff", Finished: t1},
	} {
		if err := r.Record(a); !errors.Is(err, lifeboat.ErrInvalidOptions) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(r.Destinations()) != 0 {
		t.Error("a refused attempt was recorded")
	}
}

// TestNilRecorder: a nil *Recorder is refused with lifeboat.ErrInvalidOptions, not a panic
// (WriteTextfile's would be in a registry goroutine, beyond recover).
func TestNilRecorder(t *testing.T) {
	dir := t.TempDir()
	for name, call := range map[string]func() error{
		"Record":        func() error { var r *Recorder; return r.Record(Attempt{Destination: "d", Finished: t1}) },
		"WriteTextfile": func() error { return WriteTextfile(filepath.Join(dir, "a.prom"), nil) },
		"ReadTextfile":  func() error { return ReadTextfile(filepath.Join(dir, "absent.prom"), nil) },
		"Push":          func() error { return Push(t.Context(), nil, PushOptions{URL: "http://127.0.0.1:1"}) },
	} {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, lifeboat.ErrInvalidOptions) {
				t.Fatalf("%s(nil) = %v, want lifeboat.ErrInvalidOptions", name, err)
			}
		})
	}
}

// TestRestoreBadDestinationDoesNotPanic: a destination Restore took
// unchecked makes the gather fail with an error, never a panic, and the
// good destinations' series are still there.
func TestRestoreBadDestinationDoesNotPanic(t *testing.T) {
	r, err := NewRecorder(Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	r.Restore("s3://good", State{LastSuccess: at, LastAttempt: at, LastAttemptOK: true, Attempts: 1})
	r.Restore("bad\xff", State{LastSuccess: at, LastAttempt: at, LastAttemptOK: true, Attempts: 1})
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err == nil {
		t.Fatal("gather with an invalid destination succeeded")
	}
	found := false
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "s3://good" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Errorf("the good destination's series are gone: %v", err)
	}
}
