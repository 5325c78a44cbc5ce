package offsite

import (
	"context"
	"strconv"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// reportStep is the least progress, in bytes, between two byte reports
// of one transfer (its last report is always made).
const reportStep = 1 << 20

// byteReport reports one transfer's bytes with plan.ReportBytes: Progress
// events of the plan step calling offsite, or of plan.WithReport's report
// outside a plan. msg names the transfer ("uploading snapshot_<stamp>.db"),
// so that a program showing several transfers tells them apart.
type byteReport struct {
	ctx   context.Context
	msg   string
	total int64 // 0: unknown
	last  int64 // bytes last reported; -1 before the first report
}

// newByteReport starts a transfer of total bytes (0: unknown); an attempt
// after the first is named in the message.
func newByteReport(ctx context.Context, msg string, total int64, attempt int) *byteReport {
	if attempt > 1 {
		msg += " (attempt " + strconv.Itoa(attempt) + ")"
	}
	return &byteReport{ctx: ctx, msg: msg, total: total, last: -1}
}

// update reports done bytes when they are reportStep past the last report.
func (r *byteReport) update(done int64) {
	if r.last >= 0 && done-r.last < reportStep {
		return
	}
	r.last = done
	plan.ReportBytes(r.ctx, r.msg, done, r.total)
}

// finish reports the transfer complete: n of n bytes, unless that was
// the last report already.
func (r *byteReport) finish(n int64) {
	if r.last == n && r.total == n {
		return
	}
	r.last, r.total = n, n
	plan.ReportBytes(r.ctx, r.msg, n, n)
}
