package member

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// ErrAnotherRunUnfinished: the recorded state of an unfinished run (a
// member replacement's ConfigMap, a restore's state file on the recovery
// host) belongs to another run than the one asked for (another node,
// procedure, backup or hosts). Nothing was changed. It is the one sentinel
// of this failure for every procedure: both member's [AnotherRunError] and
// restore's *restore.AnotherRunError match it.
var ErrAnotherRunUnfinished = errors.New("the recorded state belongs to another, unfinished run")

// AnotherRunError names both runs when ReplacePlan finds the unfinished
// state of another replacement. Finish the old run by running its plan
// again (same Node and State), or abandon it: set
// ReplaceOptions.AbandonUnfinished (the old state is copied to
// AbandonedName, kept for audit), or delete the ConfigMap yourself (the
// message gives the command). It matches ErrAnotherRunUnfinished.
type AnotherRunError struct {
	// ConfigMap is the live state, "<namespace>/<name>".
	ConfigMap  string
	Unfinished ReplaceIdentity
	// Started is when the old run began; Steps counts its finished steps.
	Started     time.Time
	Steps       int
	Requested   ReplaceIdentity
	Differences []string
	// AbandonedName is the ConfigMap AbandonUnfinished would copy it to.
	AbandonedName string
}

func (e *AnotherRunError) Error() string {
	ns, name, ok := strings.Cut(e.ConfigMap, "/")
	if !ok {
		ns, name = etcdNamespace, e.ConfigMap
	}
	return fmt.Sprintf("%v: ConfigMap %s holds an unfinished member replacement (%s) started %s with %d steps finished; "+
		"this run is %s (differs in %v). Finish the old run by running its plan again, or abandon it: "+
		"set ReplaceOptions.AbandonUnfinished (kept as %s), or run `oc delete configmap -n %s %s`",
		ErrAnotherRunUnfinished, e.ConfigMap, e.Unfinished, e.Started.UTC().Format(time.RFC3339), e.Steps,
		e.Requested, e.Differences, e.AbandonedName, ns, name)
}

// Is matches ErrAnotherRunUnfinished: the kind of this error (see package lifeboat, Errors).
func (e *AnotherRunError) Is(target error) bool { return target == ErrAnotherRunUnfinished }

// admit decides, before the first step runs, what to do with a state
// already in the cluster:
//   - none: when the newest state retired as finished is this identity's
//     and the cluster still shows its end state (finishedRun), the
//     replacement is done and every step is skipped (a run killed after
//     its last step, run again); otherwise the run starts fresh (the
//     state is written when its first step finishes);
//   - the same identity: resume it; finished steps are skipped and what
//     they learned (the member ID, the new node) is taken from it;
//   - another identity, finished or with nothing changed yet: retire it
//     and start fresh;
//   - another identity, unfinished: refuse with *AnotherRunError, unless
//     ReplaceOptions.AbandonUnfinished retires it as abandoned.
//
// In a dry run (plan.IsDryRun) it decides the same and writes nothing:
// what it would retire or restore, it reports.
func (r *replacement) admit(ctx context.Context, progress func(string)) error {
	if r.admitted {
		return nil
	}
	dry := plan.IsDryRun(ctx)
	want := ReplaceIdentity{Procedure: r.procedure, Node: r.o.Node}
	fresh := replaceRunState{Identity: want, Steps: r.steps, Started: r.o.Now().UTC(), Finished: map[string]time.Time{}}
	d, exists, err := r.store.load(ctx)
	if err != nil {
		return err
	}
	if exists {
		diff := d.Identity.Differences(want)
		if len(diff) == 0 {
			progress(fmt.Sprintf("resuming the run started %s (%d steps finished; state in ConfigMap %s)",
				d.Started.UTC().Format(time.RFC3339), len(d.Finished), r.store.where()))
			if d.MemberID != "" {
				if id, err := strconv.ParseUint(d.MemberID, 16, 64); err == nil {
					r.memberID = id
				}
			}
			r.newNode = d.NewNode
			r.current, r.decision = d.Current, d.Release
			r.state, r.admitted = d, true
			return nil
		}
		why := retiredAbandoned
		at := r.o.Now()
		switch {
		case d.Done():
			why = retiredFinished
			if !d.Completed.IsZero() {
				at = d.Completed
			}
		case !d.progressed():
			// Nothing in the cluster to account for.
		case !r.o.AbandonUnfinished:
			return &AnotherRunError{ConfigMap: r.store.where(), Unfinished: d.Identity, Started: d.Started,
				Steps: len(d.Finished), Requested: want, Differences: diff,
				AbandonedName: retiredName(r.store.name, retiredAbandoned, at)}
		}
		if why == retiredAbandoned && d.QuorumGuard != nil {
			if _, on := d.Finished["quorum-guard-on"]; !on && dry {
				progress("the abandoned run had turned the etcd quorum guard off: a real run restores it (" + d.QuorumGuard.String() + ")")
			} else if !on {
				// The abandoned run turned the guard off (and crashed):
				// put back what it recorded before leaving its state.
				if _, err := lifecycle.RestoreQuorumGuard(ctx, r.deps.Operator, *d.QuorumGuard, lifecycle.QuorumGuardOptions{}); err != nil {
					return fmt.Errorf("member: restoring the quorum guard the abandoned run turned off: %w", err)
				}
				progress("the abandoned run had turned the etcd quorum guard off: restored (" + d.QuorumGuard.String() + ")")
			}
		}
		if dry {
			progress(fmt.Sprintf("the %s state of another run (%s) in ConfigMap %s: a real run moves it aside (kept for audit)", why, d.Identity, r.store.where()))
		} else {
			to, err := r.store.retire(ctx, d, why, at)
			if err != nil {
				return err
			}
			progress(fmt.Sprintf("the %s state of another run (%s) was moved to ConfigMap %s/%s (kept for audit)", why, d.Identity, r.store.namespace, to))
			fresh.Previous = to
		}
	}
	if !exists {
		done, name, ok, err := r.finishedRun(ctx, want)
		if err != nil {
			return err
		}
		if ok {
			r.adoptFinished(done, name, progress)
			return nil
		}
	}
	r.state, r.admitted = fresh, true
	return nil
}

// tracked wraps a step's Run: it admits the run's state first, skips the
// step when the state records it as finished, records it as finished
// (with what the run learned) when it ends without error, and, after the
// last step, retires the state as finished. In a dry run (only the
// read-only steps run) it admits without writing and records nothing.
func (r *replacement) tracked(id string, run func(context.Context, func(string)) error) func(context.Context, func(string)) error {
	return func(ctx context.Context, progress func(string)) error {
		dry := plan.IsDryRun(ctx)
		if len(r.steps) > 0 && r.steps[0] == id {
			r.admitted, r.adopted = false, false // each Run of the plan reads the state afresh
			if r.dryRan && !dry {
				r.forget() // what a dry run learned is no run's
			}
			r.dryRan = dry
		}
		if err := r.admit(ctx, progress); err != nil {
			return err
		}
		last := len(r.steps) > 0 && r.steps[len(r.steps)-1] == id
		if r.adopted {
			if last {
				r.admitted, r.adopted = false, false
			}
			return plan.Skip(fmt.Sprintf("this replacement already finished at %s (state in ConfigMap %s/%s)",
				r.state.Completed.UTC().Format(time.RFC3339), r.store.namespace, r.state.RetiredTo))
		}
		if at, ok := r.state.Finished[id]; ok {
			if last && !dry {
				if err := r.complete(ctx, progress); err != nil {
					return err
				}
			}
			return plan.Skip(fmt.Sprintf("finished in an earlier run at %s", at.UTC().Format(time.RFC3339)))
		}
		err := run(ctx, progress)
		if dry {
			return err
		}
		if err != nil && !errors.Is(err, plan.ErrSkipped) {
			r.restoreGuardAfterFailure(ctx, id, err, progress)
			return err
		}
		if merr := r.markFinished(ctx, id); merr != nil {
			return merr
		}
		if last {
			if cerr := r.complete(ctx, progress); cerr != nil {
				return cerr
			}
		}
		return err
	}
}

// forget drops what the steps of a run learned (admit, or the steps
// themselves, learn it again).
func (r *replacement) forget() {
	r.memberID, r.newNode, r.newMemberID = 0, "", 0
	r.redeploy = lifecycle.RedeployRecord{}
	r.current, r.decision = false, ""
}

func (r *replacement) markFinished(ctx context.Context, id string) error {
	d := r.state
	d.Finished = make(map[string]time.Time, len(r.state.Finished)+1)
	for k, v := range r.state.Finished {
		d.Finished[k] = v
	}
	d.Finished[id] = r.o.Now().UTC()
	if r.memberID != 0 {
		d.MemberID = strconv.FormatUint(r.memberID, 16)
	}
	if r.newNode != "" {
		d.NewNode = r.newNode
	}
	if r.newMemberID != 0 {
		d.NewMemberID = strconv.FormatUint(r.newMemberID, 16)
	}
	if r.decision != "" {
		d.Release, d.Current = r.decision, r.current
	}
	if err := r.store.save(ctx, d); err != nil {
		return fmt.Errorf("recording step %s as finished: %w", id, err)
	}
	r.state = d
	return nil
}

// complete records the run as completed and retires its state, named with
// its finish time, so that the next replacement starts fresh.
func (r *replacement) complete(ctx context.Context, progress func(string)) error {
	if r.state.Completed.IsZero() {
		d := r.state
		d.Completed = r.o.Now().UTC()
		if err := r.store.save(ctx, d); err != nil {
			return err
		}
		r.state = d
	}
	to, err := r.store.retire(ctx, r.state, retiredFinished, r.state.Completed)
	if err != nil {
		return err
	}
	r.state.RetiredTo = to
	r.admitted = false
	progress(fmt.Sprintf("run finished; its state is kept in ConfigMap %s/%s", r.store.namespace, to))
	return nil
}
