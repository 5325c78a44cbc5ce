package freshness

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names. Every series carries the label LabelDestination (except in
// a Pushgateway, where the destination is a grouping label and the
// Pushgateway adds it), plus Options.ConstLabels. Times are Unix seconds;
// sizes bytes; durations seconds.
const (
	// LastSuccessTimestamp is when the last successful backup to the
	// destination finished. Alert on time() minus it.
	LastSuccessTimestamp = "lifeboat_backup_last_success_timestamp_seconds"
	// lastAttemptTimestamp is when the last attempt finished, whatever
	// its result.
	lastAttemptTimestamp = "lifeboat_backup_last_attempt_timestamp_seconds"
	// LastAttemptSuccess is 1 when the last attempt succeeded, 0 when it
	// failed.
	LastAttemptSuccess = "lifeboat_backup_last_attempt_success"
	// lastAttemptDuration is how long the last attempt took.
	lastAttemptDuration = "lifeboat_backup_last_attempt_duration_seconds"
	// LastSuccessSnapshotBytes, lastSuccessResourcesBytes and
	// lastSuccessStoredBytes are the sizes of the last successful backup:
	// the etcd snapshot, the static pod resources archive (both as taken)
	// and what the destination stores (after compression and encryption).
	LastSuccessSnapshotBytes  = "lifeboat_backup_last_success_snapshot_bytes"
	lastSuccessResourcesBytes = "lifeboat_backup_last_success_resources_bytes"
	lastSuccessStoredBytes    = "lifeboat_backup_last_success_stored_bytes"
	// AttemptsTotal and FailuresTotal count attempts and failed attempts.
	AttemptsTotal = "lifeboat_backup_attempts_total"
	FailuresTotal = "lifeboat_backup_failures_total"
	// lastScrubTimestamp is when the last scrub of the destination's
	// stored backups (offsite.Scrub, recorded with RecordScrub) finished;
	// lastScrubBackups how many backups it checked and
	// lastScrubCorruptBackups how many it found corrupt or missing. Alert
	// on the latter above 0, and on time() minus the former. None of the
	// three is exported before a scrub is recorded.
	lastScrubTimestamp      = "lifeboat_backup_last_scrub_timestamp_seconds"
	lastScrubBackups        = "lifeboat_backup_last_scrub_backups"
	lastScrubCorruptBackups = "lifeboat_backup_last_scrub_corrupt_backups"
)

// LabelDestination names the destination a series is about ("local",
// "s3-primary", ...: the caller's name for it, never a URL with
// credentials).
const LabelDestination = "destination"

// MetricNames lists every metric name this package exports.
func MetricNames() []string {
	names := make([]string, len(metrics))
	for i, m := range metrics {
		names[i] = m.name
	}
	return names
}

// metric is one exported metric: its name, help, type and value.
type metric struct {
	name string
	help string
	typ  prometheus.ValueType
	// value reads the metric from a destination's state; ok is false when
	// it has no value yet (no success recorded, for the last_success
	// metrics).
	value func(s State) (v float64, ok bool)
}

// unixSeconds is t as Unix seconds with sub-second precision.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

var metrics = []metric{
	{LastSuccessTimestamp, "Unix time the last successful backup to the destination finished.", prometheus.GaugeValue,
		func(s State) (float64, bool) { return unixSeconds(s.LastSuccess), !s.LastSuccess.IsZero() }},
	{lastAttemptTimestamp, "Unix time the last backup attempt to the destination finished.", prometheus.GaugeValue,
		func(s State) (float64, bool) { return unixSeconds(s.LastAttempt), !s.LastAttempt.IsZero() }},
	{LastAttemptSuccess, "1 if the last backup attempt to the destination succeeded, 0 if it failed.", prometheus.GaugeValue,
		func(s State) (float64, bool) {
			if s.LastAttemptOK {
				return 1, !s.LastAttempt.IsZero()
			}
			return 0, !s.LastAttempt.IsZero()
		}},
	{lastAttemptDuration, "Duration of the last backup attempt to the destination in seconds.", prometheus.GaugeValue,
		func(s State) (float64, bool) { return s.LastDuration.Seconds(), !s.LastAttempt.IsZero() }},
	{LastSuccessSnapshotBytes, "Size of the etcd snapshot of the last successful backup in bytes.", prometheus.GaugeValue,
		func(s State) (float64, bool) { return float64(s.SnapshotBytes), !s.LastSuccess.IsZero() }},
	{lastSuccessResourcesBytes, "Size of the static pod resources archive of the last successful backup in bytes.", prometheus.GaugeValue,
		func(s State) (float64, bool) { return float64(s.ResourcesBytes), !s.LastSuccess.IsZero() }},
	{lastSuccessStoredBytes, "Bytes the destination stores for the last successful backup (after compression and encryption).", prometheus.GaugeValue,
		func(s State) (float64, bool) { return float64(s.StoredBytes), !s.LastSuccess.IsZero() }},
	{AttemptsTotal, "Backup attempts to the destination.", prometheus.CounterValue,
		func(s State) (float64, bool) { return float64(s.Attempts), true }},
	{FailuresTotal, "Failed backup attempts to the destination.", prometheus.CounterValue,
		func(s State) (float64, bool) { return float64(s.Failures), true }},
	{lastScrubTimestamp, "Unix time the last scrub of the backups stored at the destination finished.", prometheus.GaugeValue,
		func(s State) (float64, bool) { return unixSeconds(s.LastScrub), !s.LastScrub.IsZero() }},
	{lastScrubBackups, "Backups the last scrub of the destination checked.", prometheus.GaugeValue,
		func(s State) (float64, bool) { return float64(s.ScrubBackups), !s.LastScrub.IsZero() }},
	{lastScrubCorruptBackups, "Backups the last scrub of the destination found corrupt or missing.", prometheus.GaugeValue,
		func(s State) (float64, bool) { return float64(s.ScrubCorrupt), !s.LastScrub.IsZero() }},
}
