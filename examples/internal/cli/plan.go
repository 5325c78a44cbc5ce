package cli

import (
	"fmt"
	"io"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// PlanReport is a plan.RunOptions.Report that draws the bytes steps
// report (plan.ReportBytes: a download, a snapshot) as progress, one
// transfer per step, and hands every other event to next (nil drops
// them). A step's transfer ends when the step does.
func (p *Progress) PlanReport(next func(plan.Event)) func(plan.Event) {
	return func(e plan.Event) {
		if e.Status == plan.Progress && (e.BytesDone > 0 || e.BytesTotal > 0) {
			p.Update(e.Step.ID, e.BytesDone, e.BytesTotal)
			return
		}
		if e.Status == plan.Done || e.Status == plan.Failed || e.Status == plan.Skipped {
			p.Done(e.Step.ID)
		}
		if next != nil {
			next(e)
		}
	}
}

// Report is the one renderer the example programs give every procedure's
// plan.RunOptions.Report: each event on a line of w ("[3/7] shutdown/
// worker-0 done"), and the bytes steps report as a bar or progress lines
// (Progress).
func Report(w io.Writer) func(plan.Event) {
	return NewProgress(w, ProgressOptions{}).PlanReport(func(e plan.Event) { fmt.Fprintln(w, e.String()) })
}
