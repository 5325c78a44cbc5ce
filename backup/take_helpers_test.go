package backup

import (
	"context"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// takeRun runs TakePlan once into dir, as a program that needs no plan
// of its own does, and returns the backup and the plan's events.
func takeRun(ctx context.Context, deps TakeDeps, dir string, opts TakeOptions) (*Backup, []plan.Event, error) {
	var b Backup
	opts.Dir, opts.Result = dir, &b
	p, err := TakePlan(deps, opts)
	if err != nil {
		return nil, nil, err
	}
	var events []plan.Event
	if err := p.Run(ctx, plan.RunOptions{Now: opts.Now, Report: func(e plan.Event) { events = append(events, e) }}); err != nil {
		return nil, events, err
	}
	return &b, events, nil
}
