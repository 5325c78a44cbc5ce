// Package freshness exposes, for Prometheus, whether the backups of runbook
// chapter 1 are fresh, so that a stopped backup job raises an alert. Per
// destination it
// reports when the last backup succeeded, when the last attempt finished
// and whether it succeeded, how long it took, the sizes of the last
// successful backup, counts of attempts and failures, and, once
// RecordScrub is given a scrub (offsite.Scrub), when the stored backups
// were last re-read and how many were corrupt or missing; the metric
// names (lifeboat_backup_*, see MetricNames) follow the Prometheus naming
// conventions (base units: seconds, bytes; counters end in _total).
//
// A Recorder is a prometheus.Collector with no package-level state: the
// embedder creates one, registers it where it wants (its own /metrics),
// and calls Record after each attempt. A program that runs once per
// backup (examples/backup in a CronJob) instead writes the Recorder for
// node-exporter's textfile collector (WriteTextfile, atomic; ReadTextfile
// first to carry the last success over from the previous run) or pushes
// it to a Pushgateway (Push, one group per destination, POST by default
// so that a failed run keeps the last success the Pushgateway holds).
//
// examples/cronjob/prometheusrule.yaml alerts on these metrics: no
// success within the window, the last attempt failed, attempts but never
// a success; a test there checks it names only metrics of this package.
//
// # Errors
//
// Validate methods, NewRecorder, Record, WriteTextfile's file name check
// and a nil *Recorder given to Push, WriteTextfile or ReadTextfile return
// a *lifeboat.OptionsError (lifeboat.ErrInvalidOptions) naming the field or
// argument, e.g. "freshness.Attempt.Destination" or "freshness.Push r"; Push and the textfile
// functions wrap the I/O error with the operation and target. Destination
// names become label values: never put a URL with credentials in them.
package freshness
