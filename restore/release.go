package restore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// ErrProcedureNotForRelease: the cluster's release needs another procedure
// generation than the one this plan implements (the classic restore of the
// 4.5 runbook, OpenShift 4.5-4.17). Returned inside a *PreflightError with
// Check "release" by a *ReleaseMismatchError; nothing was changed.
var ErrProcedureNotForRelease = errors.New("the restore procedure is not the one of the cluster's release")

// ReleaseMismatchError refuses the classic restore on a cluster of another
// procedure generation. It carries the decision (release.Detect) with
// every piece of evidence read, and matches ErrProcedureNotForRelease.
type ReleaseMismatchError struct {
	Decision release.Decision
	// Plan is the generation of the plan that refused (the zero value:
	// classic). restore.Run builds the plan of the decided generation, so
	// only a plan built by Plan without Options.Release, or a resumed state
	// of another generation, meets this.
	Plan release.Generation
}

func (e *ReleaseMismatchError) Error() string {
	d := e.Decision
	if e.Plan == release.GenerationEtcdOnly {
		return fmt.Sprintf("%v: lifeboat found %s (release %s), but this plan is the etcd-only restore of %s; "+
			"if the evidence is wrong, state the release with Options.Release.Version or Options.Release.Generation",
			ErrProcedureNotForRelease, d.String(), orUnknown(d.Version), release.GenerationEtcdOnly.Releases())
	}
	return fmt.Sprintf("%v: lifeboat found %s (release %s). This plan is the 4.5 runbook's classic restore (OpenShift %s): "+
		"it stops etcd, kube-apiserver, kube-controller-manager and kube-scheduler on every master and forces each operator to redeploy. "+
		"On %s (OpenShift %s) the cluster's own restore stops only etcd on every control-plane host (disable-etcd.sh), restores through a "+
		"restore pod with --mark-compacted and a bump sized from revision.json, and turns the etcd quorum guard off until the cluster is "+
		"stable; restore.Run builds that procedure when it decides the generation (restore.Plan when Options.Release states it). "+
		"To run the classic procedure anyway, set Options.AllowClassicOnEtcdOnly "+
		"(recorded in the run's state); if the evidence is wrong, state the release with Options.Release.Version or Options.Release.Generation",
		ErrProcedureNotForRelease, d.String(), orUnknown(d.Version), release.GenerationClassic.Releases(),
		d.Generation, d.Generation.Releases())
}

// Is matches ErrProcedureNotForRelease: the kind of this error (see package lifeboat, Errors).
func (e *ReleaseMismatchError) Is(target error) bool { return target == ErrProcedureNotForRelease }

// ReleaseRecord is the procedure generation decision of a run, as
// verify-backup reported it; a resumed run reports the same.
type ReleaseRecord struct {
	// Generation is the decided generation ("classic", "etcd-only").
	Generation release.Generation `json:"generation"`
	// Version is the cluster's version as the decision knows it ("" when
	// unknown); Target an upgrade in progress.
	Version string `json:"version,omitempty"`
	Target  string `json:"target,omitempty"`
	// Evidence lists the evidence the decision rests on, one line each
	// (release.Evidence.String).
	Evidence []string `json:"evidence,omitempty"`
	// Overridden: Options.Release stated the release. Conflict: the
	// ClusterVersion and the recovery host disagreed.
	Overridden bool `json:"overridden,omitempty"`
	Conflict   bool `json:"conflict,omitempty"`
	// ClassicAccepted: the generation is not classic and
	// Options.AllowClassicOnEtcdOnly ran the classic procedure anyway.
	ClassicAccepted bool `json:"classicAccepted,omitempty"`
	// Line is the progress line reported (the dry run's and the run's).
	Line string `json:"line"`
}

// releaseLine is the progress line naming the decision: generation,
// version, deciding evidence, conflict, and an accepted mismatch.
func releaseLine(d release.Decision, accepted bool) string {
	line := "release " + orUnknown(d.Version) + ": " + d.String()
	if accepted {
		line += fmt.Sprintf("; the classic procedure (%s) runs anyway, as Options.AllowClassicOnEtcdOnly asks", release.GenerationClassic.Releases())
	}
	return line
}

// checkRelease is verify-backup's first check: it decides the cluster's
// procedure generation (release.Detect, from Deps.Config and the
// recovery host, both read only), reports it, and refuses a generation
// other than classic unless Options.AllowClassicOnEtcdOnly. An
// unsupported release or a refused conflict are refused too. When nothing
// decides, no evidence of the etcd-only generation exists either: the
// classic procedure runs, and the line says what was read. The decision
// is kept in r.release for the state.
func (r *runner) checkRelease(ctx context.Context, progress func(string)) error {
	d, err := r.detect(ctx)
	var undecided *release.UndecidedError
	if err != nil && ctx.Err() == nil && errors.As(err, &undecided) {
		// Nothing on the API or the host shows a release: no sign of the
		// etcd-only generation either (its etcd-rev container and scripts
		// are what a 4.18+ host always has). Run the classic procedure,
		// and say so, with what was read.
		line := "release unknown: nothing decided (" + err.Error() + "); the classic procedure (" +
			release.GenerationClassic.Releases() + ") runs; state the release with Options.Release to be sure"
		if r.gen == release.GenerationEtcdOnly {
			line = "release unknown: nothing decided (" + err.Error() + "); the etcd-only procedure (" +
				release.GenerationEtcdOnly.Releases() + ") this run's state recorded continues"
		}
		progress(line)
		r.release = &ReleaseRecord{Generation: r.gen, Line: line}
		return nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("deciding the procedure generation: %w", err)
		}
		return &PreflightError{Check: "release", Host: r.deps.Recovery.Name(), Err: fmt.Errorf(
			"%w; state the cluster's release with Options.Release.Version (\"4.14.8\") or Options.Release.Generation", err)}
	}
	accepted := r.gen == release.GenerationClassic && d.Generation != release.GenerationClassic && r.opts.AllowClassicOnEtcdOnly
	line := releaseLine(d, accepted)
	progress(line)
	if d.Generation != r.gen && !accepted {
		return &PreflightError{Check: "release", Err: &ReleaseMismatchError{Decision: d, Plan: r.gen}}
	}
	rec := &ReleaseRecord{Generation: d.Generation, Version: d.Version, Target: d.Target,
		Overridden: d.Overridden, Conflict: d.Conflict, ClassicAccepted: accepted, Line: line}
	for _, e := range d.Evidence {
		if e.Decided {
			rec.Evidence = append(rec.Evidence, e.String())
		}
	}
	r.release = rec
	return nil
}

// resumedReport wraps report so that a resumed run, whose verify-backup
// is skipped as finished, names the decision that run recorded.
func resumedReport(report func(plan.Event), rec *ReleaseRecord) func(plan.Event) {
	if report == nil || rec == nil {
		return report
	}
	return func(e plan.Event) {
		if e.Step.ID == "verify-backup" && e.Status == plan.Skipped && !strings.Contains(e.Message, rec.Line) {
			e.Message += "; recorded: " + rec.Line
		}
		report(e)
	}
}
