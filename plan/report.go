package plan

import (
	"context"
	"time"
)

// ReportProgress reports msg, from inside a running step, as a Progress
// event of that step: it is how lifeboat's single calls
// (lifecycle.WaitAllNodesAtLatestRevision, ...) report what they wait
// for, so that a step calling them needs no wiring. ctx must be the one
// Run gave the step or derived from it, or one from WithReport; with any
// other context it does nothing.
func ReportProgress(ctx context.Context, msg string) {
	if r, ok := ctx.Value(bytesKey{}).(reporter); ok {
		r.emit(msg, 0, 0)
	}
}

// WithReport returns a context under which the single calls' progress
// (ReportProgress, ReportBytes) goes to report as Progress events with
// no Step, for a caller that runs a single call outside a plan. report
// is called synchronously from the call's goroutine.
func WithReport(ctx context.Context, report func(Event)) context.Context {
	return context.WithValue(ctx, bytesKey{}, newReporter(func(msg string, done, total int64) {
		report(Event{Status: Progress, Message: msg, BytesDone: done, BytesTotal: total, Time: time.Now()})
	}))
}
