package lifecycle_test

import (
	"context"
	"testing"

	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// shutdownPlan builds and runs lifecycle.ShutdownPlan as an
// administrator's program does, logging its events, and returns the
// result the run filled.
func shutdownPlan(ctx context.Context, t *testing.T, deps lifecycle.Deps, opts lifecycle.ShutdownOptions) (*lifecycle.ShutdownResult, error) {
	t.Helper()
	res := &lifecycle.ShutdownResult{}
	opts.Result = res
	p, err := lifecycle.ShutdownPlan(deps, opts)
	if err != nil {
		return res, err
	}
	return res, p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) { t.Log(e) }})
}

// restartPlan is shutdownPlan for lifecycle.RestartPlan.
func restartPlan(ctx context.Context, t *testing.T, deps lifecycle.Deps, opts lifecycle.RestartOptions) (*lifecycle.RestartResult, error) {
	t.Helper()
	res := &lifecycle.RestartResult{}
	opts.Result = res
	p, err := lifecycle.RestartPlan(deps, opts)
	if err != nil {
		return res, err
	}
	return res, p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) { t.Log(e) }})
}
