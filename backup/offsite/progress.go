package offsite

import (
	"context"
	"strconv"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// byteReport reports one transfer's bytes with plan.ReportBytes: Progress
// events of the plan step calling offsite, or of plan.WithReport's report
// outside a plan, thinned by plan to about one per MiB. msg names the
// transfer ("uploading snapshot_<stamp>.db"), so that a program showing
// several transfers tells them apart.
type byteReport struct {
	ctx   context.Context
	msg   string
	total int64 // 0: unknown
}

// newByteReport starts a transfer of total bytes (0: unknown); an attempt
// after the first is named in the message.
func newByteReport(ctx context.Context, msg string, total int64, attempt int) *byteReport {
	if attempt > 1 {
		msg += " (attempt " + strconv.Itoa(attempt) + ")"
	}
	return &byteReport{ctx: ctx, msg: msg, total: total}
}

// update reports done bytes; call it after every write.
func (r *byteReport) update(done int64) { plan.ReportBytes(r.ctx, r.msg, done, r.total) }

// finish reports the transfer complete: n of n bytes.
func (r *byteReport) finish(n int64) {
	r.total = n
	plan.ReportBytes(r.ctx, r.msg, n, n)
}
