package freshness

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestInvalidInputIsOneKind: the package declares no sentinel of its own;
// every refused option or attempt is a *lifeboat.OptionsError matching
// lifeboat.ErrInvalidOptions, and a nil Recorder is refused, not a panic.
func TestInvalidInputIsOneKind(t *testing.T) {
	var nilRec *Recorder
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"bad const label", func() error { _, err := NewRecorder(Options{ConstLabels: map[string]string{"0bad": "x"}}); return err }},
		{"nil recorder", func() error { return nilRec.Record(Attempt{}) }},
		{"push URL", func() error { return PushOptions{URL: "ftp://x"}.Validate() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			var oe *lifeboat.OptionsError
			if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
				t.Fatalf("got %v, want a *lifeboat.OptionsError", err)
			}
		})
	}
}

// TestOptionsErrorNamesTheOption: each refusal names the option, field or
// argument at fault, qualified by its struct or function.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	var nilRec *Recorder
	rec, err := NewRecorder(Options{ConstLabels: map[string]string{"cluster": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, badLabel := NewRecorder(Options{ConstLabels: map[string]string{"0bad": "x"}})
	errtest.OptionNames(t, []errtest.Option{
		{Name: "bad const label", Err: badLabel, Want: "freshness.Options.ConstLabels"},
		{Name: "nil recorder", Err: nilRec.Record(Attempt{}), Want: "freshness.Recorder"},
		{Name: "no destination", Err: rec.Record(Attempt{Finished: t1}), Want: "freshness.Attempt.Destination"},
		{Name: "no finish time", Err: rec.Record(Attempt{Destination: "d"}), Want: "freshness.Attempt.Finished"},
		{Name: "negative stored size", Err: rec.Record(Attempt{Destination: "d", Finished: t1, StoredBytes: -1}), Want: "freshness.Attempt.StoredBytes"},
		{Name: "negative snapshot size", Err: rec.Record(Attempt{Destination: "d", Finished: t1, SnapshotBytes: -1}), Want: "freshness.Attempt.SnapshotBytes"},
		{Name: "scrub of nil recorder", Err: nilRec.RecordScrub(Scrub{}), Want: "freshness.Recorder"},
		{Name: "scrub without destination", Err: rec.RecordScrub(Scrub{Finished: t1}), Want: "freshness.Scrub.Destination"},
		{Name: "negative scrub count", Err: rec.RecordScrub(Scrub{Destination: "d", Finished: t1, Backups: -1}), Want: "freshness.Scrub.Backups"},
		{Name: "more corrupt than checked", Err: rec.RecordScrub(Scrub{Destination: "d", Finished: t1, Backups: 1, Corrupt: 2}), Want: "",
			Fields: []string{"freshness.Scrub.Corrupt", "freshness.Scrub.Backups"}},
		{Name: "push URL", Err: PushOptions{URL: "ftp://x"}.Validate(), Want: "freshness.PushOptions.URL"},
		{Name: "push grouping", Err: PushOptions{URL: "http://gw:9091", Grouping: map[string]string{"job": "x"}}.Validate(), Want: "freshness.PushOptions.Grouping"},
		{Name: "grouping shadows a constant label", Err: Push(t.Context(), rec, PushOptions{URL: "http://gw:9091", Grouping: map[string]string{"cluster": "x"}}), Want: "freshness.PushOptions.Grouping"},
		{Name: "push of nil recorder", Err: Push(t.Context(), nil, PushOptions{URL: "http://gw:9091"}), Want: "freshness.Push r"},
		{Name: "textfile name", Err: WriteTextfile(filepath.Join(t.TempDir(), "m.txt"), rec), Want: "freshness.WriteTextfile path"},
		{Name: "textfile of nil recorder", Err: WriteTextfile(filepath.Join(t.TempDir(), "m.prom"), nil), Want: "freshness.WriteTextfile r"},
		{Name: "read into nil recorder", Err: ReadTextfile(filepath.Join(t.TempDir(), "m.prom"), nil), Want: "freshness.ReadTextfile r"},
	})
}
