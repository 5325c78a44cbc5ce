package freshness_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeboat-dev/lifeboat/backup/freshness"
)

// An embedder registers a Recorder in its registry and records each
// backup attempt; a CronJob writes it for node-exporter instead.
func ExampleRecorder() {
	rec, err := freshness.NewRecorder(freshness.Options{ConstLabels: map[string]string{"cluster": "prod-1"}})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(rec)

	finished := time.Date(2026, 11, 30, 2, 16, 30, 0, time.UTC)
	_ = rec.Record(freshness.Attempt{
		Destination: "local", Started: finished.Add(-90 * time.Second), Finished: finished,
		SnapshotBytes: 1 << 30, ResourcesBytes: 1 << 16, StoredBytes: 1<<30 + 1<<16,
	})
	_ = rec.Record(freshness.Attempt{Destination: "s3", Finished: finished, Err: errors.New("403 Forbidden")})

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == freshness.LastAttemptSuccess {
				fmt.Println(mf.GetName(), m.GetLabel()[1].GetValue(), m.GetGauge().GetValue())
			}
		}
	}

	dir, _ := os.MkdirTemp("", "textfile")
	defer os.RemoveAll(dir)
	if err := freshness.WriteTextfile(filepath.Join(dir, "lifeboat_backup.prom"), rec); err != nil {
		panic(err)
	}
	// Output:
	// lifeboat_backup_last_attempt_success local 1
	// lifeboat_backup_last_attempt_success s3 0
}
