package plan

import (
	"context"
	"sync"
)

type bytesKey struct{}

// reportStep is the least progress, in bytes, between two reports of one
// transfer that ReportBytes passes on (1 MiB).
const reportStep = 1 << 20

// reporter is what Run (for each step) and WithReport put in the
// context: emit makes the event; throttle thins ReportBytes's calls.
type reporter struct {
	emit     func(msg string, done, total int64)
	throttle *byteThrottle
}

func newReporter(emit func(msg string, done, total int64)) reporter {
	return reporter{emit: emit, throttle: &byteThrottle{last: map[string][2]int64{}}}
}

// byteThrottle remembers, per transfer (its message), the report last
// passed on. It is shared by every goroutine of one step.
type byteThrottle struct {
	mu   sync.Mutex
	last map[string][2]int64 // done, total
}

// due says whether a report of done of total bytes for msg is passed on:
// the first of a transfer, one at least reportStep past the last one
// passed on, the completing one (done == total, also when the total
// changed to it: a step whose total was an estimate reports done of done
// at its end), and one that went back (a transfer started again under
// the same message). A repeat of the last report is not.
func (t *byteThrottle) due(msg string, done, total int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	last, seen := t.last[msg]
	switch {
	case !seen || done < last[0]:
	case done == last[0] && total == last[1]:
		return false
	case total > 0 && done == total, done-last[0] >= reportStep:
	default:
		return false
	}
	t.last[msg] = [2]int64{done, total}
	return true
}

// ReportBytes reports, from inside a running step, a Progress event with
// msg and the bytes the step has moved: done of total (0 when the total
// is unknown), so a program can draw a progress bar with a rate and an
// ETA (examples/internal/cli does). ctx must be the one Run gave the
// step, or derived from it, or one from WithReport; with any other
// context ReportBytes does nothing, so step code can call it
// unconditionally, after every write. msg names the transfer
// ("downloading snapshot_<stamp>.db"); reports of one transfer are
// passed on at most once per MiB moved, plus its first one, the one that
// completes it (done == total: a step that learns the total only at the
// end reports done of done last) and one that goes back to fewer bytes
// (the transfer started again). Run hands every report it passes on to
// RunOptions.Report synchronously.
func ReportBytes(ctx context.Context, msg string, done, total int64) {
	if r, ok := ctx.Value(bytesKey{}).(reporter); ok && r.throttle.due(msg, done, total) {
		r.emit(msg, done, total)
	}
}
