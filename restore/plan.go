package restore

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// planName names the restore plan in events and errors.
const planName = "restore-to-previous-cluster-state"

// runner carries what the steps share. Everything a step needs from an
// earlier step is read back from the state, so a resumed run whose
// earlier steps are skipped has it too.
type runner struct {
	deps  Deps
	opts  Options
	state *state
	// report receives the events of the run (plan.RunOptions.Report);
	// nil for a plan built by Plan, whose caller runs it.
	report func(plan.Event)
	log    *slog.Logger
	local  host.Host // the machine running lifeboat, for BackupDir
	// steps are the plan's step IDs, and previous where admit retired
	// the state of an earlier run; both are recorded by verify-backup.
	steps    []string
	previous string
	// release is the procedure generation decision of verify-backup
	// (checkRelease), recorded in the state with the backup.
	release *ReleaseRecord
	// gen is the generation of the procedure the plan was built for;
	// decided is Run's decision made before building it, which
	// verify-backup reports instead of deciding again.
	gen     release.Generation
	decided *decided
}

// Plan builds the plan of section 5.3, "Restoring to a previous cluster
// state", without touching anything; print it with Describe (a dry run) or
// run it with Run, which keeps its state on the recovery host.
//
// The steps, in the runbook's order:
//
//	verify-backup                      the cluster's procedure generation (release.Detect; refused unless
//	                                   classic or Options.AllowClassicOnEtcdOnly), the backup
//	                                   (backup.VerifyOn, wherever it lies), then every check a
//	                                   later step applies: hosts answer, archive links, free space,
//	                                   z-stream and etcd versions, member identity, restore pod image,
//	                                   revision.json (refused as a *PreflightError)
//	copy-backup                        to RemoteBackupDir on the recovery host (step 3)
//	stop-etcd/<other>                  move etcd-pod.yaml aside, wait for its containers to stop (4b, 4c)
//	stop-kube-apiserver/<other>        the same for kube-apiserver-pod.yaml (4d, 4e)
//	move-etcd-data/<other>             move /var/lib/etcd aside (4f)
//	stop-static-pods/<recovery>        move the four manifests aside, wait for the containers (7)
//	move-etcd-data/<recovery>          move the data directory's content to /var/lib/etcd-backup (7)
//	extract-resources/<recovery>       the archive's static-pod-resources into /etc/kubernetes (7)
//	restore-snapshot/<recovery>        single-member data directory, revision bumped and compacted (7)
//	start-control-plane/<recovery>     etcd, kube-apiserver, kube-controller-manager, kube-scheduler (7)
//	restart-kubelet/<each master>      (8)
//	wait-single-member                 etcd running on the recovery host, API serving, etcd pod Running (9)
//	recreate-machine/<lost master>     a new Machine for each of Options.LostMasters (5.2)
//	quorum-guard-off                   4.11-4.17 (and an unknown release): the override recorded as
//	                                   found, then set, before the etcd redeployment (GuardRecord)
//	force-redeploy/<operator>          forceRedeploymentReason, then
//	wait-rollout/<operator>            all nodes at the latest revision, for etcd, kube-apiserver,
//	                                   kube-controller-manager, kube-scheduler in turn (10-12);
//	                                   quorum-guard-on after wait-rollout/etcd (see below)
//	verify-members                     an etcd pod Running on every master, EtcdMembersAvailable (13)
//	approve-csrs                       pending node-bootstrapper CSRs approved (5.4)
//
// The quorum guard steps follow the 4.11-4.17 documentation,
// which turns the guard off after the single member
// serves the API and back on after the forced etcd redeployment. The
// documentation turns it back on right after the patch; the plan waits
// until the etcd rollout that patch started is complete, so the guard
// cannot hold back the revision it asked for. The version deciding them
// is Options.Release.Version, else (Run) the detected or recorded one,
// else Options.ClusterVersion; a release known to be older than 4.11 gets
// the 4.5 runbook's steps unchanged. The guard is put back on every exit
// path, as in the etcd-only plan.
//
// Plan calls opts.Validate, then checks deps against opts; each refusal
// is a *lifeboat.OptionsError naming the field at fault
// ("restore.Options.<Field>", "restore.Deps.<Field>").
//
// When Options.Release states an etcd-only release (4.18+, by Version or
// Generation) and AllowClassicOnEtcdOnly is false, Plan builds the etcd-only
// procedure instead (4.18+ "Restoring to a previous cluster state": only
// etcd is stopped and restored; kube-apiserver, kube-controller-manager and
// kube-scheduler keep running):
//
//	verify-backup                  the generation and its evidence, the backup, every pre-flight check
//	copy-backup                    to RemoteBackupDir on the recovery host
//	stop-etcd/<other>              move etcd-pod.yaml aside, wait until etcd, etcdctl, etcd-metrics,
//	                               etcd-readyz and etcd-rev are gone (disable-etcd.sh)
//	stop-etcd/<recovery>           the same on the recovery host
//	move-etcd-data/<recovery>      the data directory's content, revision.json too, to EtcdBackupDir
//	extract-resources/<recovery>   the archive's static-pod-resources
//	restore-snapshot/<recovery>    --mark-compacted and a bump sized from the moved revision.json
//	start-etcd/<recovery>          the restore pod runs etcd, or the host's own etcd-pod.yaml goes back
//	wait-single-member             etcd on the recovery host, the API serving the restored revision
//	recreate-machine/<lost>        as above (Options.LostMasters)
//	quorum-guard-off               the override recorded as found, then set (GuardRecord)
//	wait-stable                    every ClusterOperator stable for StablePeriod (a forced etcd
//	                               redeployment only when it does not settle within StableTimeout)
//	quorum-guard-on                the override put back exactly as found
//	verify-members                 an etcd pod Running on every master, all members available
//	approve-csrs                   pending node-bootstrapper CSRs (unless SkipCSRApproval)
//
// Plan does no I/O, so without such a statement it builds
// the classic plan even for a 4.18+ cluster: ResolvePlan returns the plan
// Run will run, deciding from the cluster first (reading only); or state
// the version in Options.Release.
func Plan(deps Deps, opts Options) (*plan.Plan, error) {
	p, _, err := build(deps, opts, statedGeneration(opts), planVersion(opts))
	return p, err
}

// ResolvePlan returns the plan Run will run and why: it validates opts
// and checks deps as Plan does (a *lifeboat.OptionsError naming the
// field), then decides the procedure generation exactly as Run does
// (the unfinished state on the recovery host, else Options.Release,
// else release.Detect; see ProcedureChoice), and builds the plan of the
// decided generation: for a 4.18+ cluster the etcd-only restore without
// Options.Release stating it. It reads the run's state at StatePath and
// the release evidence (the ClusterVersion through Deps.Config, the
// recovery host's etcd static pod and scripts) and changes nothing. Its
// errors are the state's and the cancelled ctx's; a detection that
// decides nothing or refuses is no error here (ProcedureChoice.Err):
// the plan's verify-backup reports or refuses it when it runs.
//
// Print the plan with Describe; run it with Run (which decides again:
// the plan returned is for reading, and a changed cluster or state may
// decide otherwise).
func ResolvePlan(ctx context.Context, deps Deps, opts Options) (*plan.Plan, *ProcedureChoice, error) {
	choice, _, err := decideForRun(ctx, deps, opts)
	if err != nil {
		return nil, nil, err
	}
	p, _, err := build(deps, opts, choice.Generation, choice.Version)
	if err != nil {
		return nil, nil, err
	}
	return p, &choice, nil
}

// build lists the steps of gen's plan; version (possibly "") decides
// whether the classic plan toggles the quorum guard (classicTogglesGuard).
func build(deps Deps, opts Options, gen release.Generation, version string) (*plan.Plan, *runner, error) {
	o, err := validated(deps, opts)
	if err != nil {
		return nil, nil, err
	}
	st := newState(deps.Recovery, o.StatePath)
	st.now = o.Now
	r := &runner{
		deps:  deps,
		opts:  o,
		state: st,
		log:   o.Logger.With("plan", planName),
		local: host.NewLocal("local", "/", host.LocalOptions{Logger: o.Logger}),
		gen:   release.GenerationClassic,
	}
	p := &plan.Plan{Name: planName}
	add := func(id, desc string, run func(ctx context.Context, progress func(string)) error) {
		p.Steps = append(p.Steps, dryRunnable(plan.Step{ID: id, Description: desc, Run: run}, r))
	}
	if gen == release.GenerationEtcdOnly && !o.AllowClassicOnEtcdOnly {
		if deps.Config == nil {
			return nil, nil, opterr.New("restore.Deps.Config", "is required: the etcd-only restore (%s) waits for the ClusterOperators to be stable",
				release.GenerationEtcdOnly.Releases())
		}
		r.gen = gen
		r.etcdOnlySteps(add)
		r.steps = stepIDs(p)
		return p, r, nil
	}
	rec := deps.Recovery
	add("verify-backup", "decide the procedure generation, verify the backup: snapshot sha256, static pod resources archive, cluster and etcd versions", r.verifyBackup)
	add("copy-backup", "copy the backup directory to "+o.RemoteBackupDir+" on "+rec.Name(), r.copyBackup)
	for _, h := range deps.Others {
		h := h
		add("stop-etcd/"+h.Name(), "move etcd-pod.yaml out of "+o.ManifestDir+" on "+h.Name()+" and wait for the etcd containers to stop",
			func(ctx context.Context, progress func(string)) error {
				return r.stopComponents(ctx, h, "stop-etcd/"+h.Name(), []string{"etcd"}, progress)
			})
		add("stop-kube-apiserver/"+h.Name(), "move kube-apiserver-pod.yaml out of "+o.ManifestDir+" on "+h.Name()+" and wait for kube-apiserver to stop",
			func(ctx context.Context, progress func(string)) error {
				return r.stopComponents(ctx, h, "stop-kube-apiserver/"+h.Name(), []string{"kube-apiserver"}, progress)
			})
		add("move-etcd-data/"+h.Name(), "move "+o.EtcdDataDir+" aside on "+h.Name(),
			func(ctx context.Context, progress func(string)) error { return r.moveOtherData(ctx, h, progress) })
	}
	add("stop-static-pods/"+rec.Name(), "move the etcd, kube-apiserver, kube-controller-manager and kube-scheduler manifests aside on "+rec.Name()+" and wait for their containers to stop",
		func(ctx context.Context, progress func(string)) error {
			return r.stopComponents(ctx, rec, "stop-static-pods/"+rec.Name(), stopOrder, progress)
		})
	add("move-etcd-data/"+rec.Name(), "move the content of "+o.EtcdDataDir+" to "+o.EtcdBackupDir+" on "+rec.Name(), r.moveRecoveryData)
	add("extract-resources/"+rec.Name(), "extract the backup's static-pod-resources into "+o.ConfigDir+" on "+rec.Name(), r.extractResources)
	add("restore-snapshot/"+rec.Name(), "restore the snapshot into "+o.EtcdDataDir+" on "+rec.Name()+" as a single-member cluster", r.restoreSnapshot)
	add("start-control-plane/"+rec.Name(), "put the etcd, kube-apiserver, kube-controller-manager and kube-scheduler manifests of the backup's revisions into "+o.ManifestDir+" on "+rec.Name(), r.startControlPlane)
	for _, h := range append([]host.Host{rec}, deps.Others...) {
		h := h
		add("restart-kubelet/"+h.Name(), "restart the kubelet on "+h.Name(),
			func(ctx context.Context, progress func(string)) error { return h.RestartKubelet(ctx) })
	}
	add("wait-single-member", "wait for etcd on "+rec.Name()+", the API server, and the etcd pod of "+rec.Name()+" Running", r.waitSingleMember)
	for _, n := range o.LostMasters {
		n := n
		add("recreate-machine/"+n, "delete and re-create the Machine of the lost master "+n+" (member.RecreateMachine)",
			func(ctx context.Context, progress func(string)) error { return r.recreateMachine(ctx, n, progress) })
	}
	guard, why := classicTogglesGuard(version)
	for _, op := range lifecycle.StaticPodOperators() {
		op := op
		if op == lifecycle.Etcd && guard {
			add("quorum-guard-off", "record the etcd quorum guard override, then turn the guard off so the operator rolls a revision for one member ("+why+")", r.quorumGuardOff)
		}
		add("force-redeploy/"+string(op), "force a new "+string(op)+" revision (spec.forceRedeploymentReason)",
			func(ctx context.Context, progress func(string)) error { return r.forceRedeploy(ctx, op, progress) })
		add("wait-rollout/"+string(op), "wait until every node runs the latest "+string(op)+" revision",
			func(ctx context.Context, progress func(string)) error { return r.waitRollout(ctx, op, progress) })
		if op == lifecycle.Etcd && guard {
			add("quorum-guard-on", "put the etcd quorum guard override back as it was found", r.quorumGuardOn)
		}
	}
	add("verify-members", "verify that every master runs an etcd pod and all members are available", r.verifyMembers)
	if !o.SkipCSRApproval {
		add("approve-csrs", "approve pending node-bootstrapper CSRs that match a node or machine", r.approveCSRs)
	}
	r.steps = stepIDs(p)
	return p, r, nil
}

// Run decides the cluster's procedure generation first, reading only (a
// resumed run: the one its state recorded; else Options.Release's
// statement; else release.Detect from Config and the recovery host),
// builds the plan of that generation (the etcd-only restore for 4.18+,
// unless AllowClassicOnEtcdOnly; the classic one otherwise), and runs it
// with its state on the recovery host (StatePath). When the etcd-only
// plan stops with an error (a failed step, a cancelled ctx) after turning
// the quorum guard off, Run puts the guard back as it was found before it
// returns (see GuardRecord). The state records the run's identity (RunIdentity: the
// backup snapshot's sha256, the recovery host, the other and the lost
// masters, the restore method):
//   - a second Run with the same identity after a crash or a cancel skips
//     the steps already finished and resumes with the one that was
//     interrupted (the backup is verified again to compare it);
//   - a Run with another identity against an unfinished state changes
//     nothing and returns *AnotherRunError (ErrAnotherRunUnfinished),
//     naming both runs; Options.AbandonUnfinished retires the old state
//     instead ("<name>.abandoned-<UTC time>.json" beside it, kept for
//     audit with its StateData.Moves) and starts afresh;
//   - when every step finished, the state is retired to
//     "<name>.finished-<UTC finish time>.json" beside StatePath (recorded
//     in the returned StateData.RetiredTo), so the next Run on the host
//     starts fresh.
//
// Run validates opts and checks deps as Plan does, before anything is
// read. It honours run.Report (the plan's events), run.Now (the events'
// clock, and the state's when Options.Now is nil; when run.Now is nil,
// Options.Now stamps the events too) and run.DryRun; run.State must be nil (the run keeps its
// own state at Options.StatePath on the recovery host): a non-nil one is
// refused with a *lifeboat.OptionsError naming "plan.RunOptions.State".
//
// With run.DryRun it runs the plan as a dry run (plan.RunOptions.DryRun):
// verify-backup runs its checks and records nothing, approve-csrs lists
// the CSRs it would approve, and every other step is reported as
// plan.WouldRun with its description; a conflicting state is reported,
// never retired, and no state is read or written.
// It returns the state as the run left it (nil for a dry run or when the
// run was refused before its first step) and the first error: a
// *plan.StepError, an *AnotherRunError, or an error reading the state.
func Run(ctx context.Context, deps Deps, opts Options, run plan.RunOptions) (*StateData, error) {
	run, err := settleRun(&opts.Now, run)
	if err != nil {
		return nil, err
	}
	choice, pre, err := decideForRun(ctx, deps, opts)
	if err != nil {
		return nil, err
	}
	p, r, err := build(deps, opts, choice.Generation, choice.Version)
	if err != nil {
		return nil, err
	}
	defer r.removeFetched()
	r.decided = pre
	r.report = run.Report
	if err := r.admit(ctx, run.DryRun); err != nil {
		return nil, err
	}
	if run.DryRun {
		return nil, p.Run(ctx, plan.RunOptions{Report: run.Report, Now: run.Now, DryRun: true})
	}
	report := run.Report
	if d, err := r.state.Get(ctx); err != nil {
		return nil, err
	} else if d.Release != nil {
		r.log.Info("resuming with the recorded procedure generation", "decision", d.Release.Line)
		report = resumedReport(report, d.Release)
	}
	runErr := p.Run(ctx, plan.RunOptions{Report: report, State: r.state, Now: run.Now})
	if runErr != nil {
		// Failure or cancel: the quorum guard goes back as it was found
		// (nothing to do when the state records no guard change).
		if err := r.restoreGuardOnExit(ctx); err != nil {
			runErr = errors.Join(runErr, err)
		}
	}
	if runErr == nil {
		d, err := r.complete(ctx)
		return &d, err
	}
	d, err := r.state.Get(ctx)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	return &d, runErr
}

// validated is opts with its defaults once opts.Validate passed and deps
// were checked against it: what every plan builder and Run check first,
// before anything is read.
func validated(deps Deps, opts Options) (Options, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return o, err
	}
	return o, deps.check(o)
}

// settleRun refuses run.State (a restore keeps its own state, at
// StatePath on the recovery host) and settles the clocks: a nil *now
// takes run.Now, and a nil run.Now takes *now (both possibly still nil:
// time.Now, their default).
func settleRun(now *func() time.Time, run plan.RunOptions) (plan.RunOptions, error) {
	if run.State != nil {
		return run, opterr.New("plan.RunOptions.State", "must be nil: a restore keeps its own state on the recovery host (StatePath)")
	}
	if *now == nil {
		*now = run.Now
	}
	if run.Now == nil {
		run.Now = *now
	}
	return run, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// backupDirOnRecovery is where the restore reads the backup on the
// recovery host, and whether BackupDir must be copied there.
func (r *runner) backupDirOnRecovery() (dir string, copyNeeded bool) {
	if r.opts.BackupOnHost != "" {
		return r.opts.BackupOnHost, false
	}
	if lp, ok := r.deps.Recovery.LocalPath(r.opts.RemoteBackupDir); ok {
		a, _ := filepath.Abs(r.opts.BackupDir)
		if filepath.Clean(lp) == a {
			return r.opts.RemoteBackupDir, false
		}
	}
	return r.opts.RemoteBackupDir, true
}
