package restore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// quorumPlanName names the quorum restore plan in events and errors.
const quorumPlanName = "restore-etcd-quorum"

// defaultQuorumStatePath is where RunQuorumRestore keeps its state on the
// recovery host (beside, never in place of, the backup restore's).
const defaultQuorumStatePath = "/var/lib/lifeboat/quorum-restore-state.json"

// ForceNewCluster is the RunIdentity method of a quorum restore.
const ForceNewCluster Method = "force-new-cluster"

// QuorumRestoreOptions configures QuorumRestorePlan and RunQuorumRestore:
// the tunables of the procedure, its hosts and clients being in Deps
// (Deps.Recovery is the host whose etcd member's data directory survived,
// Deps.Others the other control-plane hosts that still answer, whose etcd
// is stopped and proven stopped before the recovery host's member is
// forced into a new cluster; Deps.Config is required). Every zero value
// is documented on its field. Validate checks them before anything is
// read or changed.
type QuorumRestoreOptions struct {
	// Unreachable attests, per node name, that a control-plane host that
	// cannot be reached runs no etcd member (the value is the evidence:
	// "machine powered off in the console at 09:12", "disk destroyed").
	// UNSAFE: lifeboat cannot check it, and a member that is in fact
	// running can keep (or regain) quorum with another one beside the
	// forced cluster, a split brain that loses writes. Each attestation is
	// recorded in the run's state and reported. A master named in the
	// recovery host's etcd-pod.yaml that is neither in Deps.Others nor
	// here makes the plan refuse (*OthersNotStoppedError). A name may not
	// be a host of Deps.
	Unreachable map[string]string

	// Release tunes the generation decision (release.Detect from
	// Deps.Config and the recovery host); the quorum restore exists only for the
	// etcd-only generation (4.18+), else *QuorumRestoreReleaseError: from
	// Validate and QuorumRestorePlan when Release states the release
	// (Version or Generation), from the check step when it is detected.
	Release release.Options

	// RevisionBump is what the forced member adds to its revision;
	// 0: floor(0.2 × maxRaftIndex) of the data directory's revision.json,
	// 1e9 without one, as quorum-restore-pod.yaml
	// computes it.
	RevisionBump uint64

	// Host paths; /etc/kubernetes/manifests, /var/lib/etcd,
	// /var/lib/lifeboat/restore-aside and
	// /var/lib/lifeboat/quorum-restore-state.json when empty.
	ManifestDir string
	EtcdDataDir string
	AsideDir    string
	StatePath   string

	// AbandonUnfinished lets the run start although StatePath holds the
	// unfinished state of another quorum restore (other hosts or
	// attestations): its quorum guard change is put back and the state is
	// renamed "<name>.abandoned-<UTC time>.json", kept for audit. False:
	// *AnotherRunError.
	AbandonUnfinished bool

	// Interval, ContainerTimeout, APITimeout, StablePeriod and
	// StableTimeout as in Options (2s, 10m, 20m, 5m, 30m when zero);
	// negative is invalid.
	Interval         time.Duration
	ContainerTimeout time.Duration
	APITimeout       time.Duration
	StablePeriod     time.Duration
	StableTimeout    time.Duration

	// Logger receives records of every action; nil discards them.
	Logger *slog.Logger
	// Now is the clock of the run's state and of its waits, as
	// Options.Now: plan.RunOptions.Now when nil, else time.Now.
	Now func() time.Time
}

// Validate checks the options alone, without I/O and without Deps
// (QuorumRestorePlan and RunQuorumRestore then check the Deps against
// them): durations not negative, Release, each Unreachable entry naming a
// node and its evidence. Each refusal is a *lifeboat.OptionsError
// (wrapping lifeboat.ErrInvalidOptions) naming
// "restore.QuorumRestoreOptions.<Field>". A Release that states a
// release without the quorum restore (Version "4.16.3", Generation
// classic) is refused here, as the "Release.Version" or
// "Release.Generation" option, with a *QuorumRestoreReleaseError as its
// cause (errors.As finds both; it matches ErrNoQuorumRestore); a
// release detected at run time is refused by the plan's check step.
func (q QuorumRestoreOptions) Validate() error {
	_, err := q.options()
	return err
}

// options turns q into the runner's Options, defaults applied.
func (q QuorumRestoreOptions) options() (Options, error) {
	if err := cmp.Or(
		opterr.Negative("restore.QuorumRestoreOptions.Interval", q.Interval),
		opterr.Negative("restore.QuorumRestoreOptions.ContainerTimeout", q.ContainerTimeout),
		opterr.Negative("restore.QuorumRestoreOptions.APITimeout", q.APITimeout),
	); err != nil {
		return Options{}, err
	}
	for n, why := range q.Unreachable {
		if n == "" || why == "" {
			return Options{}, opterr.New("restore.QuorumRestoreOptions.Unreachable", "needs a node name and the evidence that it is stopped (%q: %q)", n, why)
		}
	}
	state := q.StatePath
	if state == "" {
		state = defaultQuorumStatePath
	}
	o := Options{
		Release: q.Release, ManifestDir: q.ManifestDir, EtcdDataDir: q.EtcdDataDir, AsideDir: q.AsideDir,
		StatePath: state, SkipCSRApproval: true,
		Interval: q.Interval, ContainerTimeout: q.ContainerTimeout, APITimeout: q.APITimeout,
		StablePeriod: q.StablePeriod, StableTimeout: q.StableTimeout,
		Logger: q.Logger, Now: q.Now, noBackup: true,
	}
	o, err := o.withDefaults()
	if err != nil {
		return Options{}, err
	}
	if d, ok := q.Release.Stated(); ok && d.Generation != release.GenerationEtcdOnly {
		field := "restore.QuorumRestoreOptions.Release.Version"
		if q.Release.Version == "" {
			field = "restore.QuorumRestoreOptions.Release.Generation"
		}
		return Options{}, opterr.New(field, "%w", &QuorumRestoreReleaseError{Decision: d})
	}
	return o, nil
}

// checkQuorumDeps checks deps against q (Validate has passed): the hosts
// and clients of Deps.check, Deps.Config (the quorum restore waits for
// the ClusterOperators), and no Unreachable node that is also a host.
func checkQuorumDeps(deps Deps, q QuorumRestoreOptions, o Options) error {
	if err := deps.check(o); err != nil {
		return err
	}
	if deps.Config == nil {
		return opterr.New("restore.Deps.Config", "is required: the quorum restore waits for the ClusterOperators to be stable")
	}
	names := map[string]bool{deps.Recovery.Name(): true}
	for _, h := range deps.Others {
		names[h.Name()] = true
	}
	for n := range q.Unreachable {
		if names[n] {
			return opterr.New("", "%s is both a host to use (restore.Deps.Recovery or restore.Deps.Others) and attested unreachable (restore.QuorumRestoreOptions.Unreachable)", n)
		}
	}
	return nil
}

// QuorumRecord is the quorum restore's record in its state.
type QuorumRecord struct {
	// Bump is the revision bump asked of the forced member, and
	// BumpSource where it came from.
	Bump       uint64 `json:"bump"`
	BumpSource string `json:"bumpSource"`
	// RevisionBefore is the member's revision before it was forced (read
	// from its stopped database; 0 when the host's files are not local).
	RevisionBefore int64 `json:"revisionBefore,omitempty"`
	// BumpApplied reports whether the forced member serves at least
	// RevisionBefore + Bump (nil until checked, or when RevisionBefore is
	// unknown). Upstream etcd has no --force-new-cluster-bump-amount (the
	// cluster's own etcd has): it ignores ETCD_FORCE_NEW_CLUSTER_BUMP_AMOUNT.
	BumpApplied *bool `json:"bumpApplied,omitempty"`
	// Attested are the Unreachable attestations the run relied on.
	Attested map[string]string `json:"attested,omitempty"`
}

type quorumRunner struct {
	*runner
	q QuorumRestoreOptions
}

// QuorumRestorePlan builds, without I/O, the plan of "Restoring etcd
// quorum for high availability clusters" (4.18+, quorum-restore.sh): a
// majority of members is lost, no backup is used, and quorum comes back
// from the recovery host's surviving data directory. Print it with a dry
// run (RunQuorumRestore with plan.RunOptions.DryRun) or run it with
// RunQuorumRestore. It calls opts.Validate, then checks deps against
// opts (Deps.Config required; Deps.Machine and Deps.InProcess unused).
//
//	check                           the generation (etcd-only only) and its evidence; the recovery host's
//	                                member directory (member/snap/db, member/wal); every other master named
//	                                by the recovery host's etcd-pod.yaml either answers (Deps.Others) or is
//	                                attested stopped (Unreachable); the revision bump sized
//	stop-etcd/<other>               etcd-pod.yaml moved aside, no etcd container left: proven stopped
//	stop-etcd/<recovery>            the same on the recovery host (quorum-restore.sh)
//	force-new-cluster/<recovery>    the host's own etcd pod with ETCD_FORCE_NEW_CLUSTER=true and
//	                                ETCD_FORCE_NEW_CLUSTER_BUMP_AMOUNT (quorum-restore-pod.yaml's flags, as
//	                                environment so any etcd command form takes them); the data directory is
//	                                used as it is, nothing in it moved or deleted
//	wait-forced-member              etcd on the recovery host, the API serving at least the member's revision
//	restore-etcd-pod/<recovery>     the host's own etcd-pod.yaml back (the forced pod moved aside)
//	wait-single-member              the normal member serving the API
//	quorum-guard-off                as the etcd-only restore (GuardRecord)
//	wait-stable                     the operator adds the other members back (learners, promoted)
//	quorum-guard-on                 put back as found, on every exit path
//	verify-members                  an etcd pod Running on every master, all members available
func QuorumRestorePlan(deps Deps, opts QuorumRestoreOptions) (*plan.Plan, error) {
	p, _, err := buildQuorum(deps, opts)
	return p, err
}

func buildQuorum(deps Deps, q QuorumRestoreOptions) (*plan.Plan, *quorumRunner, error) {
	o, err := q.options()
	if err != nil {
		return nil, nil, err
	}
	if err := checkQuorumDeps(deps, q, o); err != nil {
		return nil, nil, err
	}
	st := newState(deps.Recovery, o.StatePath)
	st.now = o.Now
	r := &quorumRunner{runner: &runner{deps: deps, opts: o, state: st, log: o.Logger.With("plan", quorumPlanName),
		local: host.NewLocal("local", "/", host.LocalOptions{Logger: o.Logger}), gen: release.GenerationEtcdOnly}, q: q}
	p := &plan.Plan{Name: quorumPlanName}
	add := func(id, desc string, run func(ctx context.Context, progress func(string)) error) {
		p.Steps = append(p.Steps, dryRunnable(plan.Step{ID: id, Description: desc, Run: run}, r.runner))
	}
	rec := deps.Recovery
	add("check", "decide the procedure generation, check the member directory "+o.EtcdDataDir+" on "+rec.Name()+
		", prove every other master stoppable or attested stopped, size the revision bump", r.check)
	for _, h := range append(append([]host.Host{}, deps.Others...), rec) {
		h := h
		id := "stop-etcd/" + h.Name()
		add(id, "move etcd-pod.yaml out of "+o.ManifestDir+" on "+h.Name()+" and wait until no etcd container runs (proven stopped)",
			func(ctx context.Context, progress func(string)) error {
				return r.stopComponents(ctx, h, id, []string{"etcd"}, progress)
			})
	}
	add("force-new-cluster/"+rec.Name(), "start the member of "+rec.Name()+" from its data directory as a new one-member cluster (--force-new-cluster) with the revision bump", r.forceNewCluster)
	add("wait-forced-member", "wait for etcd on "+rec.Name()+" and the API serving at least the member's revision", r.waitForced)
	add("restore-etcd-pod/"+rec.Name(), "put the etcd-pod.yaml of "+rec.Name()+" back as it was", r.restoreEtcdPod)
	add("wait-single-member", "wait for the normal etcd pod of "+rec.Name()+" serving the API", func(ctx context.Context, progress func(string)) error {
		d, err := r.state.Get(ctx)
		if err != nil {
			return err
		}
		var min int64
		if d.Quorum != nil {
			min = d.Quorum.RevisionBefore
		}
		return r.waitMemberServing(ctx, min, progress)
	})
	add("quorum-guard-off", "record the etcd quorum guard override, then turn the guard off (unsupportedConfigOverrides."+lifecycle.QuorumGuardOverride+")", r.quorumGuardOff)
	add("wait-stable", fmt.Sprintf("wait until every master runs an etcd member and every ClusterOperator is stable for %s; force an etcd redeployment only if it does not settle within %s", o.StablePeriod, o.StableTimeout), r.waitStable)
	add("quorum-guard-on", "put the etcd quorum guard override back as it was found", r.quorumGuardOn)
	add("verify-members", "verify that every master runs an etcd pod and all members are available", r.verifyMembers)
	r.steps = stepIDs(p)
	return p, r, nil
}

// RunQuorumRestore decides the cluster's generation (reading only), builds
// QuorumRestorePlan and runs it with its state on the recovery host
// (StatePath). The check step refuses, before any host is touched, a
// release without the procedure (*QuorumRestoreReleaseError), a recovery
// host without a member directory (*NotMemberDirError) and any other
// master neither reachable nor attested stopped (*OthersNotStoppedError),
// each inside a *PreflightError. A run stopped by an error or a cancelled
// ctx after turning the quorum guard off puts it back before it returns; a
// run resumed after a crash (same recovery host, other hosts and
// attestations) skips the finished steps and ends with the guard on. A
// state of another unfinished run is refused with *AnotherRunError. It
// returns the state as the run left it (nil for a dry run).
//
// It validates opts and checks deps as QuorumRestorePlan does, before
// anything is read, and honours run as Run does: run.Report, run.Now,
// run.DryRun (the check step runs and records nothing; every other step
// is reported as plan.WouldRun), and a non-nil run.State is refused
// ("plan.RunOptions.State"; the state is kept at StatePath).
func RunQuorumRestore(ctx context.Context, deps Deps, opts QuorumRestoreOptions, run plan.RunOptions) (*StateData, error) {
	run, err := settleRun(&opts.Now, run)
	if err != nil {
		return nil, err
	}
	p, r, err := buildQuorum(deps, opts)
	if err != nil {
		return nil, err
	}
	r.report = run.Report
	if !run.DryRun {
		if err := r.admitQuorum(ctx); err != nil {
			return nil, err
		}
	}
	if st := statedGeneration(r.opts); st == release.GenerationUnknown {
		d, err := release.Detect(ctx, release.Deps{Config: r.deps.Config, Host: r.deps.Recovery}, r.opts.Release)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.decided = &decided{d: d, err: err}
	}
	if run.DryRun {
		return nil, p.Run(ctx, plan.RunOptions{Report: run.Report, Now: run.Now, DryRun: true})
	}
	report := run.Report
	if d, err := r.state.Get(ctx); err != nil {
		return nil, err
	} else if d.Release != nil {
		report = resumedReport(report, d.Release)
	}
	runErr := p.Run(ctx, plan.RunOptions{Report: report, State: r.state, Now: run.Now})
	if runErr != nil {
		if err := r.restoreGuardOnExit(ctx); err != nil {
			runErr = errors.Join(runErr, err)
		}
		d, err := r.state.Get(ctx)
		if err != nil {
			return nil, errors.Join(runErr, err)
		}
		return &d, runErr
	}
	d, err := r.complete(ctx)
	return &d, err
}
