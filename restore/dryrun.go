package restore

import (
	"context"
	"strings"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// dryRunnable readies a step of the restore plans for a dry run
// (plan.RunOptions.DryRun given to Run or RunQuorumRestore): the checks
// that open a plan (verify-backup, the quorum restore's check) are read
// only and run, recording nothing (plan.IsDryRun); approve-csrs lists
// what it would approve; every other step reports its description as
// what it would do.
func dryRunnable(s plan.Step, r *runner) plan.Step {
	switch s.ID {
	case "verify-backup", "check":
		s.ReadOnly = true
	case "approve-csrs":
		s.DryRun = func(ctx context.Context, _ func(string)) (string, error) {
			// What would be approved, when the API answers; a dry run
			// does not fail on an API that does not.
			var msgs []string
			if err := r.approve(ctx, true, func(m string) { msgs = append(msgs, m) }); err == nil && len(msgs) > 0 {
				return s.Description + ": " + strings.Join(msgs, "; "), nil
			}
			return s.Description, nil
		}
	default:
		s.DryRun = func(context.Context, func(string)) (string, error) { return s.Description, nil }
	}
	return s
}
