package plan

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestReportBytesThrottle: a step that reports after every 32 KiB write
// of two interleaved transfers produces, per transfer, its first report,
// one per MiB, and the completing one; a transfer started again is
// reported from its new start; repeats are dropped; goroutines of one
// step share the throttle without a race.
func TestReportBytesThrottle(t *testing.T) {
	const size = 5<<20 + 100 // 5 MiB and a bit: the last write is short
	var events []Event
	p := &Plan{Name: "copy", Steps: []Step{{ID: "copy", Description: "copy", Run: func(ctx context.Context, _ func(string)) error {
		for done := int64(0); done < size; {
			done = min(done+32<<10, size)
			ReportBytes(ctx, "a", done, size)
			ReportBytes(ctx, "b", done, 0) // total unknown until the end
		}
		ReportBytes(ctx, "b", size, size)
		ReportBytes(ctx, "b", size, size) // a repeat
		ReportBytes(ctx, "a", 64<<10, size)
		// c: the total was an estimate 32 bytes short (a snapshot's
		// database size, before its sha256 trailer): going past it is an
		// ordinary report, and the end is reported done of done.
		for done := int64(0); done < size; {
			done = min(done+32<<10, size)
			ReportBytes(ctx, "c", done, size-32)
		}
		ReportBytes(ctx, "c", size, size)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					ReportBytes(ctx, fmt.Sprint("g", g), int64(i)<<20, 100<<20)
				}
			})
		}
		wg.Wait()
		return nil
	}}}}
	if err := p.Run(t.Context(), RunOptions{Report: func(e Event) {
		if e.Status == Progress {
			events = append(events, e)
		}
	}}); err != nil {
		t.Fatal(err)
	}
	per := map[string][]int64{}
	for _, e := range events {
		per[e.Message] = append(per[e.Message], e.BytesDone)
	}
	// a: 32 KiB, then every MiB boundary crossed (each report is 32 KiB
	// past a multiple of 1 MiB... the first at or past last+1 MiB), the
	// completing one, then the restart at 64 KiB.
	wantA := []int64{32 << 10, 32<<10 + 1<<20, 32<<10 + 2<<20, 32<<10 + 3<<20, 32<<10 + 4<<20, size, 64 << 10}
	if fmt.Sprint(per["a"]) != fmt.Sprint(wantA) {
		t.Errorf("transfer a reported %v, want %v", per["a"], wantA)
	}
	// b: the same steps with no total, then the completing report once.
	wantB := []int64{32 << 10, 32<<10 + 1<<20, 32<<10 + 2<<20, 32<<10 + 3<<20, 32<<10 + 4<<20, size}
	if fmt.Sprint(per["b"]) != fmt.Sprint(wantB) {
		t.Errorf("transfer b reported %v, want %v", per["b"], wantB)
	}
	wantC := fmt.Sprint([]int64{32 << 10, 32<<10 + 1<<20, 32<<10 + 2<<20, 32<<10 + 3<<20, 32<<10 + 4<<20, size})
	if got := fmt.Sprint(per["c"]); got != wantC {
		t.Errorf("transfer c reported %v, want %v", got, wantC)
	}
	for i := len(events) - 1; i >= 0; i-- {
		if e := events[i]; e.Message == "c" {
			if e.BytesDone != size || e.BytesTotal != size {
				t.Errorf("transfer c ended with %d of %d bytes, want %d of %d", e.BytesDone, e.BytesTotal, size, size)
			}
			break
		}
	}
	for g := range 4 {
		if n := len(per[fmt.Sprint("g", g)]); n != 100 {
			t.Errorf("goroutine %d: %d reports passed on, want all 100 (each 1 MiB past the last)", g, n)
		}
	}
}

// TestWithReportThrottles: outside a plan, WithReport's reports go
// through the same throttle.
func TestWithReportThrottles(t *testing.T) {
	var n int
	ctx := WithReport(t.Context(), func(Event) { n++ })
	for done := int64(1); done <= 1<<20; done++ {
		ReportBytes(ctx, "x", done, 1<<20)
	}
	if n != 2 {
		t.Errorf("%d reports passed on for 1 MiB in 1-byte writes, want 2 (the first and the completing one)", n)
	}
}
