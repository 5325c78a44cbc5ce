package freshness

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// WriteTextfile writes r's metrics to path for node-exporter's textfile
// collector (--collector.textfile.directory), in the text exposition
// format, mode 0644, atomically: prometheus.WriteToTextfile writes a
// temporary file in the same directory (its name does not end in .prom,
// so the collector never reads it half-written) and renames it over
// path. path must end in ".prom", the only files the collector reads.
// The metrics are gathered through a pedantic registry, so an
// inconsistent metric is an error, not a silently wrong file.
func WriteTextfile(path string, r *Recorder) error {
	if err := CheckTextfileName(path); err != nil {
		return err
	}
	if r == nil {
		return opterr.Nil("freshness.WriteTextfile r")
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(r); err != nil {
		return fmt.Errorf("writing textfile %s: %w", path, err)
	}
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("writing textfile %s: %w", path, err)
	}
	return nil
}

// CheckTextfileName returns the *lifeboat.OptionsError WriteTextfile
// returns for path (lifeboat.ErrInvalidOptions, naming "freshness.WriteTextfile
// path") unless path ends in ".prom", the only files node-exporter's
// textfile collector reads.
func CheckTextfileName(path string) error {
	if !strings.HasSuffix(path, ".prom") {
		return opterr.New("freshness.WriteTextfile path", "%q: node-exporter reads only *.prom files", path)
	}
	return nil
}

// ReadTextfile restores into r the state of every destination found in a
// textfile WriteTextfile wrote (see Restore): call it before Record in a
// program that runs once per backup, so that a failed run still reports
// the last success. A missing file is not an error (the first run).
// Metrics of other names are ignored; a file that does not parse is an
// error and restores nothing.
func ReadTextfile(path string, r *Recorder) error {
	if r == nil {
		return opterr.Nil("freshness.ReadTextfile r")
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading textfile: %w", err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(f)
	if err != nil {
		return fmt.Errorf("reading textfile %s: %w", filepath.Clean(path), err)
	}
	states := map[string]*State{}
	for _, m := range metrics {
		mf := families[m.name]
		if mf == nil {
			continue
		}
		for _, series := range mf.GetMetric() {
			dest := labelValue(series, LabelDestination)
			if dest == "" {
				continue
			}
			var v float64
			switch {
			case series.Gauge != nil:
				v = series.GetGauge().GetValue()
			case series.Counter != nil:
				v = series.GetCounter().GetValue()
			case series.Untyped != nil:
				v = series.GetUntyped().GetValue()
			default:
				return fmt.Errorf("reading textfile %s: %s is a %s", path, m.name, mf.GetType())
			}
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				return fmt.Errorf("reading textfile %s: %s{destination=%q} is %v", path, m.name, dest, v)
			}
			s := states[dest]
			if s == nil {
				s = &State{}
				states[dest] = s
			}
			setState(s, m.name, v)
		}
	}
	for dest, s := range states {
		r.Restore(dest, *s)
	}
	return nil
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func fromSeconds(v float64) time.Time {
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

func setState(s *State, name string, v float64) {
	switch name {
	case LastSuccessTimestamp:
		s.LastSuccess = fromSeconds(v)
	case lastAttemptTimestamp:
		s.LastAttempt = fromSeconds(v)
	case LastAttemptSuccess:
		s.LastAttemptOK = v == 1
	case lastAttemptDuration:
		s.LastDuration = time.Duration(v * float64(time.Second))
	case LastSuccessSnapshotBytes:
		s.SnapshotBytes = int64(v)
	case lastSuccessResourcesBytes:
		s.ResourcesBytes = int64(v)
	case lastSuccessStoredBytes:
		s.StoredBytes = int64(v)
	case AttemptsTotal:
		s.Attempts = uint64(v)
	case FailuresTotal:
		s.Failures = uint64(v)
	case lastScrubTimestamp:
		s.LastScrub = fromSeconds(v)
	case lastScrubBackups:
		s.ScrubBackups = int(v)
	case lastScrubCorruptBackups:
		s.ScrubCorrupt = int(v)
	}
}
