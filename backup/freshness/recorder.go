package freshness

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// Options configure a Recorder. The zero value is valid: no constant
// labels.
type Options struct {
	// ConstLabels are added to every series (e.g. {"cluster": "prod-1"}).
	// Names must be valid Prometheus label names, not "destination", not
	// "job" or "instance" (the scraper's) and not start with "__";
	// values must be non-empty, valid UTF-8.
	ConstLabels map[string]string
}

// Validate checks the constant labels.
func (o Options) Validate() error {
	var errs []error
	for name, value := range o.ConstLabels {
		switch {
		case !model.LegacyValidation.IsValidLabelName(name):
			errs = append(errs, opterr.New("freshness.Options.ConstLabels", "%q is not a label name", name))
		case name == LabelDestination || name == "job" || name == "instance" || len(name) > 1 && name[:2] == "__":
			errs = append(errs, opterr.New("freshness.Options.ConstLabels", "label %q is reserved", name))
		case value == "":
			errs = append(errs, opterr.New("freshness.Options.ConstLabels", "label %q has an empty value", name))
		case !utf8.ValidString(value):
			errs = append(errs, opterr.New("freshness.Options.ConstLabels", "label %q: value is not valid UTF-8", name))
		}
	}
	return errors.Join(errs...)
}

// State is what a Recorder knows about one destination.
type State struct {
	// LastSuccess is when the last successful attempt finished (zero:
	// none known).
	LastSuccess time.Time
	// LastAttempt is when the last attempt finished (zero: none), and
	// LastAttemptOK its result, LastDuration its duration.
	LastAttempt   time.Time
	LastAttemptOK bool
	LastDuration  time.Duration
	// Sizes of the last successful backup, in bytes.
	SnapshotBytes, ResourcesBytes, StoredBytes int64
	// Attempts and Failures count attempts and failed ones.
	Attempts, Failures uint64
	// LastScrub is when the last scrub finished (zero: none recorded);
	// ScrubBackups the backups it checked, ScrubCorrupt those it found
	// corrupt or missing (see RecordScrub).
	LastScrub                  time.Time
	ScrubBackups, ScrubCorrupt int
}

// Attempt is one backup attempt to one destination.
type Attempt struct {
	// Destination is the caller's name for where the backup went
	// ("local", "s3-primary"). Required, valid UTF-8. Never put a URL
	// with credentials here: it becomes a label value.
	Destination string
	// Started and Finished bound the attempt; Finished is required,
	// Started may be zero or after Finished (duration then unknown,
	// recorded as 0).
	Started, Finished time.Time
	// Err is the attempt's error; nil means success.
	Err error
	// SnapshotBytes, ResourcesBytes and StoredBytes are the sizes of a
	// successful backup (0 when not known).
	SnapshotBytes, ResourcesBytes, StoredBytes int64
}

// Recorder holds the freshness state of backups per destination and
// exposes it as a prometheus.Collector. It has no package-level state:
// create one with NewRecorder and register it (prometheus.Register, or a
// registry of your own), or write it with WriteTextfile or Push. It is
// safe for concurrent use. A zero Recorder (declared, not made) is the
// one NewRecorder(Options{}) returns.
type Recorder struct {
	constLabels prometheus.Labels
	labeled     []*prometheus.Desc // with the destination label
	unlabeled   []*prometheus.Desc // without it, for the Pushgateway

	mu    sync.Mutex
	state map[string]State
}

// NewRecorder returns an empty Recorder; errors wrap lifeboat.ErrInvalidOptions.
func NewRecorder(opts Options) (*Recorder, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	r := &Recorder{constLabels: prometheus.Labels(maps.Clone(opts.ConstLabels))}
	r.initLocked()
	return r, nil
}

// initLocked makes the descriptions and the state map of a Recorder that
// has none (NewRecorder's, or a zero Recorder at its first use). r.mu is
// held, or r not shared yet.
func (r *Recorder) initLocked() {
	if r.state == nil {
		r.state = map[string]State{}
	}
	if r.labeled != nil {
		return
	}
	for _, m := range metrics {
		r.labeled = append(r.labeled, prometheus.NewDesc(m.name, m.help, []string{LabelDestination}, r.constLabels))
		r.unlabeled = append(r.unlabeled, prometheus.NewDesc(m.name, m.help, nil, r.constLabels))
	}
}

// Record adds an attempt: it becomes the destination's last attempt, and
// its last success if Err is nil, unless an attempt (a success) that
// finished later is already recorded, as when runs overlap or state was
// restored from a later file. Errors wrap lifeboat.ErrInvalidOptions (nil Recorder, no
// destination or one that is not valid UTF-8, no Finished time, negative
// sizes); nothing is recorded then.
func (r *Recorder) Record(a Attempt) error {
	switch {
	case r == nil:
		return opterr.Nil("freshness.Recorder")
	case a.Destination == "":
		return opterr.Nil("freshness.Attempt.Destination")
	case !utf8.ValidString(a.Destination):
		return opterr.New("freshness.Attempt.Destination", "is not valid UTF-8")
	case a.Finished.IsZero():
		return opterr.New("freshness.Attempt.Finished", "is zero")
	case a.SnapshotBytes < 0:
		return opterr.New("freshness.Attempt.SnapshotBytes", "%d is negative", a.SnapshotBytes)
	case a.ResourcesBytes < 0:
		return opterr.New("freshness.Attempt.ResourcesBytes", "%d is negative", a.ResourcesBytes)
	case a.StoredBytes < 0:
		return opterr.New("freshness.Attempt.StoredBytes", "%d is negative", a.StoredBytes)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.initLocked()
	s := r.state[a.Destination]
	s.Attempts++
	if a.Err != nil {
		s.Failures++
	}
	if !a.Finished.Before(s.LastAttempt) {
		s.LastAttempt, s.LastAttemptOK, s.LastDuration = a.Finished, a.Err == nil, 0
		if !a.Started.IsZero() && a.Finished.After(a.Started) {
			s.LastDuration = a.Finished.Sub(a.Started)
		}
	}
	if a.Err == nil && !a.Finished.Before(s.LastSuccess) {
		s.LastSuccess = a.Finished
		s.SnapshotBytes, s.ResourcesBytes, s.StoredBytes = a.SnapshotBytes, a.ResourcesBytes, a.StoredBytes
	}
	r.state[a.Destination] = s
	return nil
}

// State returns what the Recorder knows about dest.
func (r *Recorder) State(dest string) (State, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.state[dest]
	return s, ok
}

// Restore sets dest's state, e.g. from a previous run (ReadTextfile does
// it from a textfile): a CronJob is a new process each time, and without
// it a failed run would no longer report when the last success was.
// Restore does not check dest: it must be what Record accepts (non-empty,
// valid UTF-8); otherwise its series are collected as invalid metrics,
// which the registry reports as a gather error.
func (r *Recorder) Restore(dest string, s State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.initLocked()
	r.state[dest] = s
}

// Destinations lists the destinations with a state, sorted.
func (r *Recorder) Destinations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.initLocked()
	return slices.Sorted(maps.Keys(r.state))
}

// Describe implements prometheus.Collector.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	r.mu.Lock()
	r.initLocked()
	r.mu.Unlock()
	for _, d := range r.labeled {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one series per metric and
// destination; the last_success metrics only once a success is known.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	r.initLocked()
	states := maps.Clone(r.state)
	r.mu.Unlock()
	for _, dest := range slices.Sorted(maps.Keys(states)) {
		r.collect(ch, states[dest], r.labeled, dest)
	}
}

func (r *Recorder) collect(ch chan<- prometheus.Metric, s State, descs []*prometheus.Desc, labelValues ...string) {
	for i, m := range metrics {
		if v, ok := m.value(s); ok {
			// A destination Restore was given unchecked becomes one invalid
			// metric (the gather reports it) instead of a panic.
			c, err := prometheus.NewConstMetric(descs[i], m.typ, v, labelValues...)
			if err != nil {
				c = prometheus.NewInvalidMetric(descs[i], err)
			}
			ch <- c
		}
	}
}

// destination is the Collector of one destination's series without the
// destination label: what is pushed to the Pushgateway group of that
// destination.
type destination struct {
	r     *Recorder
	state State
}

func (d destination) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range d.r.unlabeled {
		ch <- desc
	}
}

func (d destination) Collect(ch chan<- prometheus.Metric) { d.r.collect(ch, d.state, d.r.unlabeled) }
