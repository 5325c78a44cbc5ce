package member

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/controlplane"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// ReplaceOptions configures the replacement plans. Node is required; the
// rest has documented defaults.
type ReplaceOptions struct {
	// Node is the unhealthy member's name, which on OpenShift is its node
	// (Finding.Node).
	Node string
	// State chooses the procedure in ReplacePlan (Finding.State).
	State State

	// BackupDir is a backup taken before the replacement (runbook 2.1). It
	// is checked with VerifyBackup before anything changes.
	BackupDir string
	// SkipBackupCheck proceeds without a verified backup. The runbook
	// insists on one; set it only deliberately.
	SkipBackupCheck bool
	// VerifyBackup checks BackupDir; nil uses backup.Verify.
	VerifyBackup func(ctx context.Context, dir string) error

	// Host is the unhealthy master, for 2.4.2 (stopping the pod there).
	Host host.Host
	// Stop configures StopEtcdMember (2.4.2).
	Stop StopOptions
	// Machine configures RecreateMachine (2.4.1).
	Machine RecreateOptions
	// Release overrides or tunes the release detection (release.Detect
	// over Deps.Config) that chooses the procedure: releases from
	// 4.11 on run the current documentation's procedure (the
	// etcd quorum guard turned off after the member is removed and back
	// on before the verification, on every exit path; for 2.4.1 also "oc
	// delete node" of the failed node), earlier ones and an unknown
	// release the 4.5 runbook's. E.g. Release.Version "4.16.3".
	Release release.Options
	// WaitForNewMaster is how long the recreate-machine step of 2.4.1
	// waits, on a cluster whose masters have no Machine (user-provisioned
	// infrastructure, bare metal), for the administrator to create the new
	// master as the original was created: it reports that manual step and
	// continues as soon as a new Ready master node joins. Zero does not
	// wait: the step fails with a *NoMachineError naming the manual step,
	// and running the plan again once the new node is Ready continues from
	// there.
	WaitForNewMaster time.Duration

	// ExpectedMembers is the member count at the end; 3 when zero.
	ExpectedMembers int
	// HealthTimeout bounds each member health check; 5 s when zero.
	HealthTimeout time.Duration
	// Interval between polls (machine phase, verification); 5s when zero.
	Interval time.Duration
	// VerifyTimeout bounds the final verification wait; 15m when zero.
	VerifyTimeout time.Duration
	// RedeployPrefix replaces the forceRedeploymentReason prefix:
	// "recovery-" (2.4.1) and "single-master-recovery-" (2.4.2).
	RedeployPrefix string
	// RedeployStore records the forced etcd redeployment (its reason and
	// the revision before it) before the patch, so that a run resumed after
	// a crash neither patches twice nor waits on the wrong revision. Nil
	// keeps the record in the cluster, in an annotation of the etcd
	// operator object (lifecycle.NewAnnotationRedeployStore, key
	// "replace-<Node>"), removed once the rollout finished.
	RedeployStore lifecycle.RedeployStore

	// StateConfigMap names the ConfigMap in openshift-etcd that keeps the
	// run's state (JSON): the steps finished and what they
	// learned, so that a run resumed after a crash skips the finished steps
	// and never mistakes the new member for the one it replaces.
	// "lifeboat-member-replacement" when empty. The state lives in the cluster (the
	// plan runs from an admin machine, and 2.4.1 loses the master itself);
	// it is written after each step and, once the last step finished,
	// copied to "<name>.finished-<UTC yyyymmdd-hhmmss>" and deleted.
	StateConfigMap string
	// AbandonUnfinished lets the run retire the unfinished state of another
	// replacement (another node or procedure) as
	// "<name>.abandoned-<time>" instead of refusing with *AnotherRunError.
	AbandonUnfinished bool
	// Now is the clock for the state; time.Now when nil.
	Now func() time.Time

	// Logger receives what each step does; nil discards.
	Logger *slog.Logger
}

func (o ReplaceOptions) withDefaults() ReplaceOptions {
	if o.ExpectedMembers <= 0 {
		o.ExpectedMembers = 3
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.VerifyTimeout <= 0 {
		o.VerifyTimeout = 15 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StateConfigMap == "" {
		o.StateConfigMap = defaultStateConfigMap
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VerifyBackup == nil {
		o.VerifyBackup = func(ctx context.Context, dir string) error {
			_, err := backup.Verify(ctx, dir, backup.VerifyOptions{Logger: o.Logger})
			return err
		}
	}
	if o.Machine.Interval <= 0 {
		o.Machine.Interval = o.Interval
	}
	if o.Machine.Logger == nil {
		o.Machine.Logger = o.Logger
	}
	if o.Machine.Now == nil {
		o.Machine.Now = o.Now
	}
	if o.Stop.Logger == nil {
		o.Stop.Logger = o.Logger
	}
	return o
}

// ReplacePlan returns the plan for the member's state: runbook 2.4.1
// (replacing the machine) for MachineNotRunning and NodeNotReady, 2.4.2
// (replacing the member on its running machine) for EtcdPodCrashlooping.
// A Healthy member needs no replacement (the runbook's note in 2.3) and an
// Unknown state has no procedure: both are refused. Every refusal, before
// any I/O, is a *lifeboat.OptionsError (lifeboat.ErrInvalidOptions) naming
// the option, e.g. "member.ReplaceOptions.State" or "member.Deps.Kube"
// (Deps.Etcd, Kube and Operator are required).
//
// The plan's first steps only read, and a dry run (plan.RunOptions.DryRun)
// runs them: they are what an operator checks before touching anything.
//
//	identify      the member is the unhealthy one, in the state opts.State
//	              claims (FindUnhealthyMember; a *QuorumLostError when
//	              quorum is already lost: restore instead, runbook 5.3)
//	check-quorum  the other voting members keep a quorum without it:
//	              RemoveMember's guard (ErrWouldLoseQuorum, *QuorumLostError,
//	              ErrMemberHealthy), read only
//	check-backup  opts.VerifyBackup(BackupDir), runbook 2.1; skipped with
//	              SkipBackupCheck
//	release       the procedure of the cluster's release (ChooseProcedure)
//
// A dry run reads the run's state ConfigMap too, and fails with
// *AnotherRunError where a real run would; it writes nothing (no state,
// no step recorded) and reports every later step as plan.WouldRun. A step
// that finished in an earlier run (the state) is reported as skipped; a
// member already removed skips identify and check-quorum.
//
// 2.4.1 (MachineNotRunning, NodeNotReady) then runs remove-member,
// quorum-guard-off, delete-node, delete-secrets, recreate-machine,
// force-redeploy, wait-revision, quorum-guard-on, verify; 2.4.2
// (EtcdPodCrashlooping) runs stop-etcd, remove-member, quorum-guard-off,
// delete-secrets, force-redeploy, wait-revision, quorum-guard-on, verify.
// Step IDs are stable across releases of lifeboat: the state records them.
func ReplacePlan(deps Deps, opts ReplaceOptions) (*plan.Plan, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.State == EtcdPodCrashlooping {
		return replaceCrashloopingPlan(deps, opts)
	}
	return replaceMachinePlan(deps, opts)
}

// Validate reports options ReplacePlan cannot use, before anything is
// built or touched; each refusal is a *lifeboat.OptionsError
// (lifeboat.ErrInvalidOptions) naming the field, e.g.
// "member.ReplaceOptions.Node". It checks that Node is set; that State
// has a procedure (MachineNotRunning and NodeNotReady: 2.4.1;
// EtcdPodCrashlooping: 2.4.2, which also needs Host); that BackupDir is
// set unless SkipBackupCheck (runbook 2.1); that Release is valid; and
// that no count or duration is negative (zero takes the documented
// default). Deps are checked by ReplacePlan.
func (o ReplaceOptions) Validate() error {
	if o.Node == "" {
		return opterr.Nil("member.ReplaceOptions.Node")
	}
	switch o.State {
	case MachineNotRunning, NodeNotReady:
	case EtcdPodCrashlooping:
		if o.Host == nil {
			return opterr.New("member.ReplaceOptions.Host", "is required by 2.4.2 (the crashlooping master's host)")
		}
	case Healthy:
		return opterr.New("member.ReplaceOptions.State", "%s is healthy again: it needs no replacement; the etcd cluster Operator syncs it", o.Node)
	default:
		return opterr.New("member.ReplaceOptions.State", "%q: no procedure of chapter 2 applies to %s", o.State, o.Node)
	}
	if o.BackupDir == "" && !o.SkipBackupCheck {
		return opterr.New("member.ReplaceOptions.BackupDir", "is required: take an etcd backup first (runbook 2.1), or set SkipBackupCheck to proceed without one")
	}
	if err := o.Release.Validate(); err != nil {
		return opterr.Under("member.ReplaceOptions.Release", "release.Options", err)
	}
	return cmp.Or(
		opterr.Negative("member.ReplaceOptions.ExpectedMembers", o.ExpectedMembers),
		opterr.Negative("member.ReplaceOptions.WaitForNewMaster", o.WaitForNewMaster),
		opterr.Negative("member.ReplaceOptions.HealthTimeout", o.HealthTimeout),
		opterr.Negative("member.ReplaceOptions.Interval", o.Interval),
		opterr.Negative("member.ReplaceOptions.VerifyTimeout", o.VerifyTimeout),
		opterr.Negative("member.ReplaceOptions.Stop.Interval", o.Stop.Interval),
		opterr.Negative("member.ReplaceOptions.Machine.Interval", o.Machine.Interval),
	)
}

// replacement carries what steps learn for later steps.
type replacement struct {
	deps      Deps
	o         ReplaceOptions
	procedure string
	memberID  uint64
	newNode   string
	// newMemberID: the member verify found in the replaced one's place.
	newMemberID uint64
	redeploy    lifecycle.RedeployRecord
	// current: the release runs the current procedure (guard toggled);
	// decided by the release step, kept in the run state.
	current  bool
	decision string

	// The run's persisted state (runstate.go).
	store    *stateStore
	steps    []string
	state    replaceRunState
	admitted bool
	// dryRan: the last Run of the plan was a dry run; the next real one
	// forgets what it learned.
	dryRan bool
	// adopted: the state is a finished run's, already retired
	// (finishedRun); nothing runs and nothing is written.
	adopted bool
}

// track wraps every step of p with the run state (replacement.tracked).
func (r *replacement) track(p *plan.Plan) *plan.Plan {
	r.steps = make([]string, len(p.Steps))
	for i := range p.Steps {
		r.steps[i] = p.Steps[i].ID
		p.Steps[i].Run = r.tracked(p.Steps[i].ID, p.Steps[i].Run)
	}
	return p
}

func newReplacement(deps Deps, opts ReplaceOptions, procedure string) (*replacement, error) {
	// The options were validated by ReplacePlan; the deps are checked here.
	switch {
	case deps.Etcd == nil:
		return nil, opterr.Nil("member.Deps.Etcd")
	case deps.Kube == nil:
		return nil, opterr.Nil("member.Deps.Kube")
	case deps.Operator == nil:
		return nil, opterr.Nil("member.Deps.Operator")
	}
	o := opts.withDefaults()
	if o.RedeployStore == nil {
		o.RedeployStore = lifecycle.NewAnnotationRedeployStore(deps.Operator, "replace-"+o.Node)
	}
	store := &stateStore{kube: deps.Kube, namespace: etcdNamespace, name: o.StateConfigMap}
	return &replacement{deps: deps, o: o, procedure: procedure, store: store}, nil
}

// replaceMachinePlan is runbook 2.4.1, replacing a member whose machine is
// not running or whose node is not ready: identify, check the backup,
// remove the member, delete its secrets, delete and re-create the master
// Machine, force an etcd redeployment if fewer etcd pods than masters run,
// wait until every node is at the latest revision, verify.
func replaceMachinePlan(deps Deps, opts ReplaceOptions) (*plan.Plan, error) {
	r, err := newReplacement(deps, opts, "2.4.1")
	if err != nil {
		return nil, err
	}
	if r.o.RedeployPrefix == "" {
		r.o.RedeployPrefix = lifecycle.DefaultRedeployPrefix
	}
	n := r.o.Node
	return r.track(&plan.Plan{
		Name: "replace etcd member " + n + " (machine not running / node not ready, runbook 2.4.1)",
		Steps: []plan.Step{
			{ID: "identify", Description: "confirm that " + n + " is the unhealthy member and that its machine is not running or its node is not ready (2.2, 2.3)", Run: r.identify, ReadOnly: true},
			{ID: "check-quorum", Description: "check that etcd keeps its quorum without " + n + ": the guard of etcdctl member remove, read only (the other voting members healthy)", Run: r.checkQuorum, ReadOnly: true},
			{ID: "check-backup", Description: "check that an etcd backup was taken (2.1)", Run: r.checkBackup, ReadOnly: true},
			{ID: "release", Description: "choose the procedure of the cluster's release (4.5 runbook, or the current one with the quorum guard)", Run: r.detectRelease, ReadOnly: true},
			{ID: "remove-member", Description: "remove the unhealthy member " + n + " (etcdctl member remove), then list the members again", Run: r.removeMember},
			{ID: "quorum-guard-off", Description: "current releases: turn the etcd quorum guard off (unsupportedConfigOverrides." + lifecycle.QuorumGuardOverride + ": true), recording it first", Run: r.guardOff},
			{ID: "delete-node", Description: "current releases: delete the node " + n + " (oc delete node)", Run: r.deleteNode},
			{ID: "delete-secrets", Description: "delete secrets etcd-peer-, etcd-serving-, etcd-serving-metrics-" + n + " in openshift-etcd", Run: r.deleteSecrets},
			{ID: "recreate-machine", Description: "save, delete and re-create the master machine of " + n + ", wait for phase Running", Run: r.recreateMachine},
			{ID: "force-redeploy", Description: "force an etcd redeployment if fewer etcd pods than masters are running", Run: r.forceRedeployIfNeeded},
			{ID: "wait-revision", Description: "wait until all nodes are at the latest etcd revision (AllNodesAtLatestRevision)", Run: r.waitRevision},
			{ID: "quorum-guard-on", Description: "current releases: turn the etcd quorum guard back on (the recorded override restored)", Run: r.guardOn},
			{ID: "verify", Description: fmt.Sprintf("verify exactly %d started, healthy members and a Running etcd pod on every master", r.o.ExpectedMembers), Run: r.verify},
		},
	}), nil
}

// replaceCrashloopingPlan is runbook 2.4.2, replacing a member whose etcd
// pod is crashlooping: identify, check the backup, stop the pod on its host
// (manifest and data directory moved aside), remove the member, delete its
// secrets, force an etcd redeployment, wait until every node is at the
// latest revision, verify.
func replaceCrashloopingPlan(deps Deps, opts ReplaceOptions) (*plan.Plan, error) {
	r, err := newReplacement(deps, opts, "2.4.2")
	if err != nil {
		return nil, err
	}
	if r.o.RedeployPrefix == "" {
		r.o.RedeployPrefix = "single-master-recovery-"
	}
	n := r.o.Node
	return r.track(&plan.Plan{
		Name: "replace etcd member " + n + " (etcd pod crashlooping, runbook 2.4.2)",
		Steps: []plan.Step{
			{ID: "identify", Description: "confirm that " + n + " is the unhealthy member and that its etcd pod is crashlooping (2.2, 2.3)", Run: r.identify, ReadOnly: true},
			{ID: "check-quorum", Description: "check that etcd keeps its quorum without " + n + ": the guard of etcdctl member remove, read only (the other voting members healthy)", Run: r.checkQuorum, ReadOnly: true},
			{ID: "check-backup", Description: "check that an etcd backup was taken (2.1)", Run: r.checkBackup, ReadOnly: true},
			{ID: "release", Description: "choose the procedure of the cluster's release (4.5 runbook, or the current one with the quorum guard)", Run: r.detectRelease, ReadOnly: true},
			{ID: "stop-etcd", Description: "on " + n + ": move etcd-pod.yaml to /var/lib/etcd-backup, wait for etcd to stop, move /var/lib/etcd to /tmp", Run: r.stopEtcd},
			{ID: "remove-member", Description: "remove the unhealthy member " + n + " (etcdctl member remove), then list the members again", Run: r.removeMember},
			{ID: "quorum-guard-off", Description: "current releases: turn the etcd quorum guard off (unsupportedConfigOverrides." + lifecycle.QuorumGuardOverride + ": true), recording it first", Run: r.guardOff},
			{ID: "delete-secrets", Description: "delete secrets etcd-peer-, etcd-serving-, etcd-serving-metrics-" + n + " in openshift-etcd", Run: r.deleteSecrets},
			{ID: "force-redeploy", Description: "force an etcd redeployment (forceRedeploymentReason " + r.o.RedeployPrefix + "<timestamp>)", Run: r.forceRedeploy},
			{ID: "wait-revision", Description: "wait until all nodes are at the latest etcd revision (AllNodesAtLatestRevision)", Run: r.waitRevision},
			{ID: "quorum-guard-on", Description: "current releases: turn the etcd quorum guard back on (the recorded override restored)", Run: r.guardOn},
			{ID: "verify", Description: fmt.Sprintf("verify exactly %d started, healthy members (endpoint health --cluster) and a Running etcd pod on every master", r.o.ExpectedMembers), Run: r.verify},
		},
	}), nil
}

func (r *replacement) identify(ctx context.Context, progress func(string)) error {
	// 2.4.1 re-creates the Machine under a new node name: once the old
	// member is removed, a run resumed after a crash finds the new master
	// joining (unstarted or a learner), which is unhealthy but not the one
	// to replace. The old member's absence says the removal was done.
	if r.procedure == "2.4.1" {
		if _, lerr := lookup(ctx, r.deps.Etcd, r.o.Node); errors.Is(lerr, ErrMemberNotFound) {
			return plan.Skip(r.o.Node + " is no longer a member (removed earlier)")
		}
	}
	f, err := FindUnhealthyMember(ctx, r.deps, FindOptions{HealthTimeout: r.o.HealthTimeout, Logger: r.o.Logger})
	if errors.Is(err, ErrNoUnhealthyMember) {
		if _, lerr := lookup(ctx, r.deps.Etcd, r.o.Node); errors.Is(lerr, ErrMemberNotFound) {
			return plan.Skip(r.o.Node + " is no longer a member (removed earlier)")
		}
		return fmt.Errorf("%s is healthy: nothing to replace: %w", r.o.Node, err)
	}
	if err != nil {
		return err
	}
	for _, e := range f.Evidence {
		progress(e)
	}
	if f.Disagreement != "" {
		progress("note: " + f.Disagreement)
	}
	switch {
	case f.Node != r.o.Node && f.Member.Name != r.o.Node:
		return fmt.Errorf("the unhealthy member is %s, not %s", f.Member.DisplayName(), r.o.Node)
	case f.State == Healthy:
		return fmt.Errorf("%s is healthy again: it needs no replacement (runbook 2.3 note)", r.o.Node)
	case r.procedure == "2.4.2" && f.State == Unknown && r.stoppedEarlier(ctx):
		progress("etcd on " + r.o.Node + " was stopped by an earlier run (its manifest is in " + r.stopDir() + "); continuing")
	case f.State.Procedure() != r.procedure:
		return fmt.Errorf("%s is in state %s, which procedure %s does not cover (it needs %q)", r.o.Node, f.State, r.procedure, f.State.Procedure())
	}
	r.memberID = f.Member.ID
	return nil
}

// checkQuorum is the check-quorum step: what RemoveMember will check
// before it removes the member identify found (checkRemoval), made before
// anything changes: the member is unhealthy, and the other voting members
// keep a quorum without it (ErrWouldLoseQuorum, *QuorumLostError,
// ErrMemberHealthy). It only reads: a dry run runs it. A run resumed
// from a state that recorded a change (a state written before the step
// existed) skips it: the check is for before the first change, and
// remove-member checks again.
func (r *replacement) checkQuorum(ctx context.Context, progress func(string)) error {
	if r.state.progressed() {
		return plan.Skip("an earlier run of this replacement already changed the cluster; remove-member checks quorum itself")
	}
	id, err := r.currentMemberID(ctx)
	if err != nil {
		return err
	}
	hc, err := healthCheckerFor("member.Deps.Health", r.deps.Health, r.deps.Etcd)
	if err != nil {
		return err
	}
	timeout := cmp.Or(r.o.HealthTimeout, defaultHealthTimeout)
	res, target, err := checkRemoval(ctx, r.deps.Etcd, hc, id, timeout, false)
	if err != nil {
		return err
	}
	if target == nil {
		return plan.Skip(fmt.Sprintf("member %x is not listed (already removed)", id))
	}
	voting, healthy := 0, 0
	for _, h := range res.Health {
		if h.ID != id && !h.IsLearner {
			voting++
			if h.Healthy {
				healthy++
			}
		}
	}
	progress(fmt.Sprintf("without %s (%x): %d of %d voting members healthy, quorum needs %d", r.o.Node, id, healthy, voting, quorum(voting)))
	return nil
}

func (r *replacement) checkBackup(ctx context.Context, progress func(string)) error {
	if r.o.BackupDir == "" {
		return plan.Skip("backup check skipped by the caller (SkipBackupCheck)")
	}
	if err := r.o.VerifyBackup(ctx, r.o.BackupDir); err != nil {
		return fmt.Errorf("the backup in %s does not verify; take a new one (runbook 2.1): %w", r.o.BackupDir, err)
	}
	progress("backup in " + r.o.BackupDir + " verified")
	return nil
}

func (r *replacement) stopEtcd(ctx context.Context, progress func(string)) error {
	res, err := StopEtcdMember(ctx, r.o.Host, r.o.Stop) // it reports through plan.ReportProgress
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		progress(n)
	}
	progress(fmt.Sprintf("manifest now at %s, data directory now at %s", res.ManifestMovedTo, res.DataDirMovedTo))
	return nil
}

// currentMemberID is the ID identify recorded, else the one etcd has for
// the node now; a plan.Skip error when the node is no longer a member
// (an earlier run removed it).
func (r *replacement) currentMemberID(ctx context.Context) (uint64, error) {
	if r.memberID != 0 {
		return r.memberID, nil
	}
	m, err := lookup(ctx, r.deps.Etcd, r.o.Node)
	if errors.Is(err, ErrMemberNotFound) {
		return 0, plan.Skip(r.o.Node + " is not a member (already removed)")
	}
	if err != nil {
		return 0, err
	}
	return m.ID, nil
}

func (r *replacement) removeMember(ctx context.Context, progress func(string)) error {
	id, err := r.currentMemberID(ctx)
	if err != nil {
		return err
	}
	res, err := RemoveMember(ctx, r.deps.Etcd, id, RemoveOptions{Health: r.deps.Health, HealthTimeout: r.o.HealthTimeout, Logger: r.o.Logger})
	if err != nil {
		return err
	}
	if res.AlreadyAbsent {
		return plan.Skip(fmt.Sprintf("member %x is not listed (already removed)", id))
	}
	progress(fmt.Sprintf("Member %x removed; members now:\n%s", id, MemberTable(res.After)))
	return nil
}

func (r *replacement) deleteSecrets(ctx context.Context, progress func(string)) error {
	deleted, err := DeleteMemberSecrets(ctx, r.deps.Kube, r.o.Node)
	if err != nil {
		return err
	}
	if len(deleted) == 0 {
		return plan.Skip("no secrets of " + r.o.Node + " left")
	}
	for _, d := range deleted {
		progress("deleted secret " + etcdNamespace + "/" + d)
	}
	return nil
}

func (r *replacement) recreateMachine(ctx context.Context, progress func(string)) error {
	if r.deps.Machine == nil {
		return r.manualMaster(ctx, &NoMachineError{Node: r.o.Node, Namespace: machineNamespace}, progress)
	}
	res, err := RecreateMachine(ctx, r.deps.Machine, r.o.Node, r.o.Machine) // it reports through plan.ReportProgress
	var nm *NoMachineError
	if errors.As(err, &nm) {
		return r.manualMaster(ctx, nm, progress)
	}
	if err != nil {
		return err
	}
	r.newNode = res.NewNode
	progress(fmt.Sprintf("machine %s replaced %s; node %s", res.New.Name, res.OldName, res.NewNode))
	return nil
}

// runningEtcdPods counts master nodes with a Running etcd pod.
func (r *replacement) runningEtcdPods(ctx context.Context) (int, error) {
	nodes, err := controlplane.Nodes(ctx, r.deps.Kube)
	if err != nil {
		return 0, err
	}
	running := 0
	for _, n := range nodes {
		p, err := r.deps.Kube.CoreV1().Pods(etcdNamespace).Get(ctx, "etcd-"+n.Name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning {
			if _, crashing, _ := podStatus(p, time.Time{}, 0); !crashing {
				running++
			}
		}
	}
	return running, nil
}

func (r *replacement) forceRedeployIfNeeded(ctx context.Context, progress func(string)) error {
	n, err := r.runningEtcdPods(ctx)
	if err != nil {
		return err
	}
	if n >= r.o.ExpectedMembers {
		return plan.Skip(fmt.Sprintf("%d etcd pods are running", n))
	}
	progress(fmt.Sprintf("only %d etcd pods are running: forcing a redeployment", n))
	return r.forceRedeploy(ctx, progress)
}

// forceRedeploy sets a new forceRedeploymentReason on the etcd operator,
// recorded in RedeployStore before the patch (lifecycle.ForceRedeployOnce):
// resumed after a crash that followed the patch, it patches nothing again.
func (r *replacement) forceRedeploy(ctx context.Context, progress func(string)) error {
	rec, patched, err := lifecycle.ForceRedeployOnce(ctx, r.deps.Operator, lifecycle.Etcd, r.o.RedeployStore,
		lifecycle.ForceRedeployOptions{Prefix: r.o.RedeployPrefix, Logger: r.o.Logger})
	if err != nil {
		return err
	}
	r.redeploy = rec
	if !patched {
		progress(fmt.Sprintf("forceRedeploymentReason %s already set by an earlier run (latest revision was %d)", rec.Reason, rec.AfterRevision))
		return nil
	}
	progress(fmt.Sprintf("forceRedeploymentReason %s set (latest revision was %d)", rec.Reason, rec.AfterRevision))
	return nil
}

// waitRevision waits for the rollout of the redeployment forced by this run
// or, resumed, by the run recorded in RedeployStore; then drops the record.
func (r *replacement) waitRevision(ctx context.Context, progress func(string)) error {
	rec := r.redeploy
	if rec.Reason == "" {
		stored, ok, err := r.o.RedeployStore.LoadRedeploy(ctx, lifecycle.Etcd)
		if err != nil {
			return fmt.Errorf("reading the recorded etcd redeployment: %w", err)
		}
		if ok {
			rec = stored
		}
	}
	rev, err := lifecycle.WaitAllNodesAtLatestRevision(ctx, r.deps.Operator, lifecycle.Etcd,
		lifecycle.WaitOptions{After: rec, Logger: r.o.Logger}) // progress: the step's events, through ctx
	if err != nil {
		return err
	}
	if rec.Reason != "" {
		if err := r.o.RedeployStore.SaveRedeploy(ctx, lifecycle.Etcd, lifecycle.RedeployRecord{}); err != nil {
			return fmt.Errorf("dropping the record of the etcd redeployment %q: %w", rec.Reason, err)
		}
		r.redeploy = lifecycle.RedeployRecord{}
	}
	progress(fmt.Sprintf("%s: all nodes are at revision %d", names.AllNodesAtLatestRevision, rev))
	return nil
}

func (r *replacement) verify(ctx context.Context, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, r.o.VerifyTimeout)
	defer cancel()
	gone := ""
	if r.procedure == "2.4.1" && r.newNode != r.o.Node {
		gone = r.o.Node // the new machine brings a new node; 2.4.2 re-adds the same one
	}
	v, err := WaitVerified(ctx, r.deps, VerifyOptions{Expected: r.o.ExpectedMembers, Gone: gone, HealthTimeout: r.o.HealthTimeout}, r.o.Interval, progress)
	if err != nil {
		return err
	}
	name := r.o.Node
	if gone != "" && r.newNode != "" {
		name = r.newNode
	}
	for _, m := range v.Members {
		if m.Name == name && m.ID != r.memberID {
			r.newMemberID = m.ID // recorded with the step (markFinished)
		}
	}
	progress(v.Summary())
	return nil
}

func (r *replacement) stopDir() string {
	return r.o.Stop.withDefaults().BackupDir
}

// stoppedEarlier reports whether StopEtcdMember already ran on the host:
// the manifest is out of the manifest directory and in the backup one.
func (r *replacement) stoppedEarlier(ctx context.Context) bool {
	so := r.o.Stop.withDefaults()
	if _, err := r.o.Host.Stat(ctx, so.ManifestPath); err == nil {
		return false
	}
	_, err := r.o.Host.Stat(ctx, path.Join(so.BackupDir, path.Base(so.ManifestPath)))
	return err == nil
}
