package freshness

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lifeboat-dev/lifeboat"
)

func TestWriteTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lifeboat_backup.prom")
	r := newRecorder(t, Options{ConstLabels: map[string]string{"cluster": "prod-1"}})
	recordTwoDays(t, r)
	for _, dest := range []string{"local", "s3"} {
		if err := r.RecordScrub(Scrub{Destination: dest, Finished: t2, Backups: 3, Corrupt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := WriteTextfile(path, r); err != nil {
		t.Fatal(err)
	}

	// What node-exporter reads: the file parses as the text format and
	// holds exactly the collector's series.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != len(MetricNames()) {
		t.Errorf("%d families, want %d", len(families), len(MetricNames()))
	}
	got := families[LastSuccessTimestamp].GetMetric()
	if len(got) != 2 || got[0].GetGauge().GetValue() != float64(t1.Unix()) {
		t.Errorf("%s: %v", LastSuccessTimestamp, got)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.CollectAndCompare(r, strings.NewReader(string(content))); err != nil {
		t.Errorf("textfile differs from the collector: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	// No temporary file is left beside it.
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v", entries)
	}

	if err := WriteTextfile(filepath.Join(dir, "metrics.txt"), r); !errors.Is(err, lifeboat.ErrInvalidOptions) {
		t.Errorf("a name node-exporter ignores: %v", err)
	}
	if err := WriteTextfile(filepath.Join(dir, "missing", "x.prom"), r); err == nil {
		t.Error("missing directory: no error")
	}
}

// A CronJob run is a new process: ReadTextfile brings back the last
// success so that a failed run does not lose it.
func TestReadTextfileCarriesLastSuccess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lifeboat_backup.prom")
	if err := ReadTextfile(path, newRecorder(t, Options{})); err != nil {
		t.Fatalf("first run, no file: %v", err)
	}

	run1 := newRecorder(t, Options{})
	if err := run1.Record(Attempt{Destination: "local", Started: t1.Add(-time.Minute), Finished: t1, SnapshotBytes: 100, ResourcesBytes: 10, StoredBytes: 110}); err != nil {
		t.Fatal(err)
	}
	if err := WriteTextfile(path, run1); err != nil {
		t.Fatal(err)
	}

	run2 := newRecorder(t, Options{})
	if err := ReadTextfile(path, run2); err != nil {
		t.Fatal(err)
	}
	if err := run2.Record(Attempt{Destination: "local", Started: t2.Add(-time.Second), Finished: t2, Err: errors.New("no leader")}); err != nil {
		t.Fatal(err)
	}
	s, _ := run2.State("local")
	want := State{LastSuccess: t1, LastAttempt: t2, LastDuration: time.Second, SnapshotBytes: 100, ResourcesBytes: 10, StoredBytes: 110, Attempts: 2, Failures: 1}
	if !s.LastSuccess.Equal(want.LastSuccess) || !s.LastAttempt.Equal(want.LastAttempt) || s.LastAttemptOK ||
		s.LastDuration != want.LastDuration || s.SnapshotBytes != 100 || s.ResourcesBytes != 10 || s.StoredBytes != 110 ||
		s.Attempts != 2 || s.Failures != 1 {
		t.Errorf("state %+v, want %+v", s, want)
	}
	if err := WriteTextfile(path, run2); err != nil {
		t.Fatal(err)
	}
	want3 := `
# HELP lifeboat_backup_last_success_timestamp_seconds Unix time the last successful backup to the destination finished.
# TYPE lifeboat_backup_last_success_timestamp_seconds gauge
lifeboat_backup_last_success_timestamp_seconds{destination="local"} 1.7960049e+09
# HELP lifeboat_backup_last_attempt_success 1 if the last backup attempt to the destination succeeded, 0 if it failed.
# TYPE lifeboat_backup_last_attempt_success gauge
lifeboat_backup_last_attempt_success{destination="local"} 0
`
	reg := prometheus.NewRegistry()
	run3 := newRecorder(t, Options{})
	if err := ReadTextfile(path, run3); err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(run3)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want3), LastSuccessTimestamp, LastAttemptSuccess); err != nil {
		t.Error(err)
	}

	for name, content := range map[string]string{
		"not the text format": "lifeboat_backup_attempts_total{destination=\"local\" 1\n",
		"negative":            "lifeboat_backup_last_success_timestamp_seconds{destination=\"local\"} -1\n",
	} {
		bad := filepath.Join(t.TempDir(), "bad.prom")
		if err := os.WriteFile(bad, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		r := newRecorder(t, Options{})
		if err := ReadTextfile(bad, r); err == nil || len(r.Destinations()) != 0 {
			t.Errorf("%s: err %v, destinations %v", name, err, r.Destinations())
		}
	}
}
