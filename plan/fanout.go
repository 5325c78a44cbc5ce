package plan

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/lifeboat-dev/lifeboat/internal/safego"
)

// FanoutError is returned (wrapped in the *StepError) when sub-steps of a
// Fanout step failed. Unwrap gives each sub-step's error, so errors.Is and
// errors.As see through it.
type FanoutError struct {
	Step string
	// Failed are the IDs of the sub-steps that failed, in plan order, and
	// Errs their errors.
	Failed []string
	Errs   []error
}

func (e *FanoutError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = e.Failed[i] + ": " + err.Error()
	}
	return fmt.Sprintf("%d sub-steps of %s failed: %s", len(e.Failed), e.Step, strings.Join(msgs, "; "))
}

func (e *FanoutError) Unwrap() []error { return e.Errs }

// fanout lists the sub-steps of s and runs them, at most s.MaxParallel at
// once, each with its own events; every sub-step runs even when another
// fails (a shutdown tells every host it can reach).
func (r *runner) fanout(ctx context.Context, s Step, index int) error {
	subs, err := safego.CallValue("plan.Step.Fanout", func() ([]Step, error) { return s.Fanout(ctx) })
	if err != nil {
		return fmt.Errorf("listing the sub-steps: %w", err)
	}
	sub := &Plan{Name: r.p.Name, Steps: subs}
	if err := sub.Validate(); err != nil {
		return err
	}
	// A State records sub-steps by ID beside the plan's steps: a reused
	// ID would mark another step finished and skip it on resume.
	r.mu.Lock()
	for _, c := range subs {
		if r.ids[c.ID] {
			r.mu.Unlock()
			return fmt.Errorf("%w: %s: sub-step %q of %q has the ID of another step", ErrInvalidPlan, r.p.Name, c.ID, s.ID)
		}
	}
	for _, c := range subs {
		r.ids[c.ID] = true
	}
	r.mu.Unlock()
	limit := s.MaxParallel
	if limit <= 0 || limit > len(subs) {
		limit = len(subs)
	}
	// limit workers take the sub-steps in plan order, so they start in
	// that order (one after another with a bound of 1).
	errs := make([]error, len(subs))
	next := make(chan int, len(subs))
	for i := range subs {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range limit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				errs[i] = r.step(ctx, subs[i], index)
			}
		}()
	}
	wg.Wait()
	fe := &FanoutError{Step: s.ID}
	for i, err := range errs {
		if err != nil {
			fe.Failed, fe.Errs = append(fe.Failed, subs[i].ID), append(fe.Errs, err)
		}
	}
	if len(fe.Errs) > 0 {
		return fe
	}
	return nil
}
