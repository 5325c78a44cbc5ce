package member

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// quorumGuardSince is the first OpenShift minor release (4.y) whose
// member replacement procedure turns the etcd quorum guard off after the
// member is removed and back on at the end, and (machine not running)
// deletes the failed node. Earlier releases, and a cluster whose release
// is unknown, follow the 4.5 runbook. The cluster-etcd-operator honours
// the override since 4.4, so the toggle is harmless on any release that
// has it; the line is where the documentation added the steps.
const quorumGuardSince = 11

// guardRestoreTimeout bounds putting the guard back after a failure or
// a cancel, when the run's own context may be gone.
const guardRestoreTimeout = time.Minute

// ProcedureChoice is which procedure of chapter 2 a cluster's release
// documents, and why.
type ProcedureChoice struct {
	// Current: the current documentation's procedure (quorum guard turned
	// off and back on, failed node deleted); false: the 4.5 runbook's.
	Current bool
	// Decision is the release decision on one line (release.Decision's
	// String, or why the release is unknown).
	Decision string
}

// String is the choice for a progress line or a dry run.
func (c ProcedureChoice) String() string {
	if c.Current {
		return c.Decision + ": the current procedure: the etcd quorum guard is turned off after the member is removed and back on before the verification"
	}
	return c.Decision + ": the 4.5 runbook's procedure: the etcd quorum guard is not touched"
}

// ChooseProcedure reads the cluster's release (release.Detect over
// deps.Config, opts.Release overriding) and says which procedure the
// replacement plans run: the release step does this (a dry run of the
// plan runs it too), and a caller can name the choice without the plan. An unknown release
// (no Config, no override) chooses the 4.5 runbook's and says so; other
// errors are the detection's.
func ChooseProcedure(ctx context.Context, deps Deps, opts ReplaceOptions) (ProcedureChoice, error) {
	d, err := release.Detect(ctx, release.Deps{Config: deps.Config}, opts.Release)
	var undecided *release.UndecidedError
	switch {
	case errors.As(err, &undecided):
		return ProcedureChoice{Decision: "release unknown (" + err.Error() + ")"}, nil
	case err != nil:
		return ProcedureChoice{}, fmt.Errorf("member: detecting the cluster's release: %w", err)
	}
	return ProcedureChoice{Current: currentProcedure(d), Decision: d.String()}, nil
}

// detectRelease is the release step: it decides, once per run (a resumed
// run keeps the decision it recorded), between the 4.5 runbook and the
// current procedure, and says why.
func (r *replacement) detectRelease(ctx context.Context, progress func(string)) error {
	c, err := ChooseProcedure(ctx, r.deps, r.o)
	if err != nil {
		return err
	}
	r.current, r.decision = c.Current, c.Decision
	progress(c.String())
	return nil
}

// currentProcedure reports whether d's release has the quorum guard
// steps: a known version from 4.QuorumGuardSince, or the etcd-only
// generation (4.18+) whatever the version.
func currentProcedure(d release.Decision) bool {
	if d.Generation == release.GenerationEtcdOnly {
		return true
	}
	v, err := release.ParseVersion(d.Version)
	if err != nil {
		return false
	}
	return v.Major > 4 || (v.Major == 4 && v.Minor >= quorumGuardSince)
}

// guardOff records the guard as it is, then turns it off. A resumed run
// that recorded it already turns it off again if needed, never
// re-recording (the guard it would read now is the one it turned off).
func (r *replacement) guardOff(ctx context.Context, progress func(string)) error {
	if !r.current {
		return plan.Skip("the 4.5 runbook's procedure does not touch the quorum guard")
	}
	if r.state.QuorumGuard == nil {
		prev, err := lifecycle.ReadQuorumGuard(ctx, r.deps.Operator)
		if err != nil {
			return err
		}
		d := r.state
		d.QuorumGuard = &prev
		if err := r.store.save(ctx, d); err != nil {
			return fmt.Errorf("member: recording the quorum guard before turning it off: %w", err)
		}
		r.state = d
	}
	_, patched, err := lifecycle.DisableQuorumGuard(ctx, r.deps.Operator, lifecycle.QuorumGuardOptions{})
	if err != nil {
		return err
	}
	if patched {
		progress("etcd quorum guard turned off (was: " + r.state.QuorumGuard.String() + ")")
	} else {
		progress("etcd quorum guard already off (" + r.state.QuorumGuard.String() + ")")
	}
	return nil
}

// guardOn puts the recorded override back.
func (r *replacement) guardOn(ctx context.Context, progress func(string)) error {
	if r.state.QuorumGuard == nil {
		return plan.Skip("the quorum guard was not turned off by this run")
	}
	patched, err := lifecycle.RestoreQuorumGuard(ctx, r.deps.Operator, *r.state.QuorumGuard, lifecycle.QuorumGuardOptions{})
	if err != nil {
		return err
	}
	if patched {
		progress("etcd quorum guard restored: " + r.state.QuorumGuard.String())
	}
	return nil
}

// restoreGuardAfterFailure puts the guard back when step id failed (or was
// cancelled) after the run turned it off and before it turned it back on:
// a failed replacement must not leave the cluster unprotected. It uses its
// own bounded context, as the run's may be cancelled.
func (r *replacement) restoreGuardAfterFailure(ctx context.Context, id string, cause error, progress func(string)) {
	if r.state.QuorumGuard == nil {
		return // never turned off by this run
	}
	if _, done := r.state.Finished["quorum-guard-on"]; done {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), guardRestoreTimeout)
	defer cancel()
	patched, err := lifecycle.RestoreQuorumGuard(rctx, r.deps.Operator, *r.state.QuorumGuard, lifecycle.QuorumGuardOptions{})
	switch {
	case err != nil:
		r.o.Logger.Error("could not restore the etcd quorum guard after a failed step: restore it by hand",
			"step", id, "cause", cause, "err", err, "guard", r.state.QuorumGuard.String())
		progress(fmt.Sprintf("WARNING: step %s failed and the etcd quorum guard could not be restored (%v): restore %s by hand", id, err, r.state.QuorumGuard))
	default:
		if patched {
			progress(fmt.Sprintf("step %s failed: etcd quorum guard restored (%s); a resumed run turns it off again", id, r.state.QuorumGuard))
		}
		// A resumed run must turn it off again before the steps that
		// need it off.
		if _, ok := r.state.Finished["quorum-guard-off"]; ok {
			d := r.state
			d.Finished = maps.Clone(r.state.Finished)
			delete(d.Finished, "quorum-guard-off")
			if err := r.store.save(rctx, d); err != nil {
				r.o.Logger.Error("could not record the restored quorum guard", "err", err)
				return
			}
			r.state = d
		}
	}
}

// deleteNode is "oc delete node <node>" of the current 2.4.1 procedure.
func (r *replacement) deleteNode(ctx context.Context, progress func(string)) error {
	if !r.current {
		return plan.Skip("the 4.5 runbook's procedure does not delete the node")
	}
	err := r.deps.Kube.CoreV1().Nodes().Delete(ctx, r.o.Node, metav1.DeleteOptions{})
	switch {
	case apierrors.IsNotFound(err):
		progress("node " + r.o.Node + " already gone")
		return nil
	case err != nil:
		return fmt.Errorf("member: deleting node %s: %w", r.o.Node, err)
	}
	progress("node " + r.o.Node + " deleted")
	return nil
}
