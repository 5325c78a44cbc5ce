package plan

import (
	"context"
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
)

// TestFinally: Plan.Finally runs once at the end of every Run that passed
// Validate, with the error Run returns (nil after the last step), on a
// context not cancelled with Run's; its error and its panic are joined
// to Run's; a plan that fails Validate never calls it.
func TestFinally(t *testing.T) {
	boom := errors.New("boom")
	ok := func(context.Context, func(string)) error { return nil }
	type call struct {
		err       error
		cancelled bool
		dry       bool
	}
	for _, tc := range []struct {
		name    string
		steps   []Step
		cancel  bool // cancel ctx in the first step
		dry     bool
		finally func(context.Context, error) error
		wantRun []error // errors.Is targets of Run's error; nil: no error
		wantArg error   // errors.Is target of Finally's argument; nil: nil
	}{
		{name: "finished", steps: []Step{{ID: "a", Run: ok}}},
		{name: "a step fails", steps: []Step{{ID: "a", Run: func(context.Context, func(string)) error { return boom }}, {ID: "b", Run: ok}},
			wantRun: []error{boom}, wantArg: boom},
		{name: "a step panics", steps: []Step{{ID: "a", Run: func(context.Context, func(string)) error { panic("no") }}},
			wantRun: []error{lifeboat.ErrPanicked}, wantArg: lifeboat.ErrPanicked},
		{name: "cancelled", steps: []Step{{ID: "a", Run: ok}, {ID: "b", Run: ok}}, cancel: true,
			wantRun: []error{context.Canceled}, wantArg: context.Canceled},
		{name: "a dry run", steps: []Step{{ID: "a", Run: ok}}, dry: true},
		{name: "finally fails", steps: []Step{{ID: "a", Run: ok}}, finally: func(context.Context, error) error { return boom },
			wantRun: []error{boom}},
		{name: "finally panics after a failure", steps: []Step{{ID: "a", Run: func(context.Context, func(string)) error { return context.DeadlineExceeded }}},
			finally: func(context.Context, error) error { panic("cleanup") },
			wantRun: []error{context.DeadlineExceeded, lifeboat.ErrPanicked}, wantArg: context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				first := tc.steps[0].Run
				tc.steps[0].Run = func(ctx context.Context, p func(string)) error { cancel(); return first(ctx, p) }
			}
			var calls []call
			p := &Plan{Name: "p", Steps: tc.steps, Finally: func(ctx context.Context, err error) error {
				calls = append(calls, call{err: err, cancelled: ctx.Err() != nil, dry: IsDryRun(ctx)})
				if tc.finally != nil {
					return tc.finally(ctx, err)
				}
				return nil
			}}
			err := p.Run(ctx, RunOptions{DryRun: tc.dry})
			if len(tc.wantRun) == 0 && err != nil {
				t.Fatalf("Run = %v, want nil", err)
			}
			for _, w := range tc.wantRun {
				if !errors.Is(err, w) {
					t.Fatalf("Run = %v, want it to match %v", err, w)
				}
			}
			if len(calls) != 1 {
				t.Fatalf("Finally ran %d times, want once", len(calls))
			}
			c := calls[0]
			if tc.wantArg == nil && c.err != nil || tc.wantArg != nil && !errors.Is(c.err, tc.wantArg) {
				t.Fatalf("Finally got %v, want %v", c.err, tc.wantArg)
			}
			if c.cancelled {
				t.Fatal("Finally's context is cancelled")
			}
			if c.dry != tc.dry {
				t.Fatalf("Finally's IsDryRun = %v, want %v", c.dry, tc.dry)
			}
		})
	}

	called := false
	bad := &Plan{Name: "bad", Steps: []Step{{ID: "a"}}, Finally: func(context.Context, error) error { called = true; return nil }}
	if err := bad.Run(t.Context(), RunOptions{}); !errors.Is(err, ErrInvalidPlan) || called {
		t.Fatalf("invalid plan: Run = %v, Finally called = %v; want ErrInvalidPlan and no call", err, called)
	}
}
