package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// Bytes a plan's step reports become progress lines; its other events go
// on to the next reporter.
func TestPlanReport(t *testing.T) {
	off := false
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var bars, events bytes.Buffer
	p := NewProgress(&bars, ProgressOptions{Terminal: &off, Now: clock.now})
	pl := &plan.Plan{Name: "restore", Steps: []plan.Step{{ID: "fetch-backup", Description: "download the backup", Run: func(ctx context.Context, progress func(string)) error {
		progress("opening")
		plan.ReportBytes(ctx, "downloading", 0, 4<<20)
		clock.t = clock.t.Add(2 * time.Second)
		plan.ReportBytes(ctx, "downloading", 4<<20, 4<<20)
		return nil
	}}}}
	err := pl.Run(t.Context(), plan.RunOptions{Report: p.PlanReport(func(e plan.Event) { events.WriteString(e.String() + "\n") })})
	if err != nil {
		t.Fatal(err)
	}
	wantBars := "fetch-backup: 0 B of 4.0 MiB (0%)\nfetch-backup: 4.0 MiB of 4.0 MiB (100%), 2.0 MiB/s, done in 2s\n"
	wantEvents := "[1/1] fetch-backup started: download the backup\n[1/1] fetch-backup progress: opening\n[1/1] fetch-backup done\n"
	if bars.String() != wantBars || events.String() != wantEvents {
		t.Fatalf("bars:\n%s\nwant:\n%s\nevents:\n%s\nwant:\n%s", bars.String(), wantBars, events.String(), wantEvents)
	}
	if strings.Contains(events.String(), "MiB") {
		t.Error("byte events reached the next reporter")
	}
}
