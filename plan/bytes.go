package plan

import "context"

type bytesKey struct{}

type bytesReporter func(msg string, done, total int64)

// ReportBytes reports, from inside a running step, a Progress event with
// msg and the bytes the step has moved: done of total (0 when the total
// is unknown), so a program can draw a progress bar with a rate and an
// ETA (examples/internal/cli does). ctx must be the one Run gave the
// step, or derived from it; with any other context ReportBytes does
// nothing, so step code can call it unconditionally. Steps that copy
// data (a download, a snapshot) report at most every few MiB; Run hands
// every report to RunOptions.Report synchronously.
func ReportBytes(ctx context.Context, msg string, done, total int64) {
	if r, ok := ctx.Value(bytesKey{}).(bytesReporter); ok {
		r(msg, done, total)
	}
}
