package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/freshness"
)

// metrics reports the run's outcome as backup freshness metrics
// (package backup/freshness): to node-exporter's textfile collector,
// to a Pushgateway, or both.
type metrics struct {
	textfile    string
	push        freshness.PushOptions
	destination string
	started     time.Time
}

// newMetrics checks the flags; it returns nil when neither output is set.
// metricsFlags are the flags of the backup freshness metrics.
type metricsFlags struct{ textfile, pushgateway, destination string }

func (m *metricsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.textfile, "metrics-textfile", "", "write backup freshness metrics to this *.prom file for node-exporter's textfile collector")
	fs.StringVar(&m.pushgateway, "pushgateway", "", "push backup freshness metrics to this Pushgateway URL (http://host:9091)")
	fs.StringVar(&m.destination, "metrics-destination", "local", "the destination label of the freshness metrics (\"offsite\" by default with -destination)")
}

// build returns the reporter the flags ask for (nil for none); offsite
// makes "offsite" the destination label unless -metrics-destination is
// given.
func (m *metricsFlags) build(fs *flag.FlagSet, offsite bool) (*metrics, error) {
	dest := m.destination
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "metrics-destination" })
	if offsite && !given {
		dest = "offsite"
	}
	return newMetrics(m.textfile, m.pushgateway, dest)
}

func newMetrics(textfile, pushgateway, destination string) (*metrics, error) {
	if textfile == "" && pushgateway == "" {
		return nil, nil
	}
	m := &metrics{textfile: textfile, destination: destination, started: time.Now()}
	if destination == "" {
		return nil, errors.New("-metrics-destination must not be empty")
	}
	if pushgateway != "" {
		m.push = freshness.PushOptions{URL: pushgateway}
		if err := m.push.Validate(); err != nil {
			return nil, err
		}
	}
	if textfile != "" {
		if err := freshness.CheckTextfileName(textfile); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// report records the attempt (b is nil when it failed) and writes it out.
// A failure here does not change the backup's exit code: the backup is
// there; the LifeboatBackupTooOld alert notices missing metrics.
// stored is the bytes stored at the destination; 0 means the files' sizes
// (a local backup).
func (m *metrics) report(ctx context.Context, b *backup.Backup, stored int64, failed error, stderr io.Writer) {
	// Report even when the run was interrupted (SIGTERM), within bounds.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	rec, err := freshness.NewRecorder(freshness.Options{})
	if err == nil && m.textfile != "" {
		// Carry the last success of earlier runs over.
		err = freshness.ReadTextfile(m.textfile, rec)
	}
	if err == nil {
		a := freshness.Attempt{Destination: m.destination, Started: m.started, Finished: time.Now(), Err: failed}
		if b != nil && failed == nil {
			a.SnapshotBytes, a.ResourcesBytes = b.Snapshot.Size, b.Resources.Size
			a.StoredBytes = stored
			if stored == 0 {
				a.StoredBytes = a.SnapshotBytes + a.ResourcesBytes // stored as taken, locally
			}
		}
		err = rec.Record(a)
	}
	if err == nil && m.textfile != "" {
		err = freshness.WriteTextfile(m.textfile, rec)
	}
	if err == nil && m.push.URL != "" {
		err = freshness.Push(ctx, rec, m.push)
	}
	if err != nil {
		fmt.Fprintf(stderr, "backup: metrics: %v\n", err)
	}
}
