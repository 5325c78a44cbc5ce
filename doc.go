// Package lifeboat backs up and recovers OpenShift 4 control planes. It
// turns the OpenShift "Backup and restore" runbook into composable,
// context-aware Go functions that platform tooling and CI jobs can import.
//
// This package holds no code; it is the map from the runbook to the
// packages that implement it:
//
//	Chapter 1, backing up etcd                     package backup
//	  1.1 snapshot + static pod resources          backup.TakePlan, backup.Snapshot, backup.Verify
//	Chapter 2, replacing an unhealthy etcd member  package member
//	  2.2 identifying the unhealthy member         member.FindUnhealthyMember
//	  2.3 determining its state                    member.FindUnhealthyMember (State)
//	  2.4.1 / 2.4.2 step: remove the member        member.RemoveMember
//	  2.4.1 / 2.4.2 step: delete its secrets       member.DeleteMemberSecrets
//	  2.4.1 step 3: re-create the master Machine   member.RecreateMachine (or the ControlPlaneMachineSet)
//	  2.4.2 step 1: stop the crashlooping pod      member.StopEtcdMember
//	  2.4.2 step 4: force etcd redeployment        lifecycle.ForceRedeploy
//	Chapter 3, shutting down gracefully            lifecycle.ShutdownPlan
//	Chapter 4, restarting gracefully               lifecycle.RestartPlan
//	  4.2 steps 4 and 6: pending CSRs              certs.ApproveNodeBootstrapperCSRs
//	Chapter 5, disaster recovery                   package restore
//	  5.3 restore to a previous cluster state      restore.Plan
//	  5.3 steps 10-12: control plane rollouts      lifecycle.ForceRedeploy, lifecycle.WaitAllNodesAtLatestRevision
//	  5.4 expired control plane certificates       certs.ApproveNodeBootstrapperCSRs
//
// Releases: package release decides which generation of these procedures
// applies to a cluster. release.Detect takes an override first
// (Options.Version or Options.Generation), then the newest Completed entry
// of ClusterVersion status.history (an upgrade in progress does not count),
// then, when the API is down or gives nothing, the recovery host's etcd
// static pod and /usr/local/bin scripts (an etcd-rev container,
// disable-etcd.sh or quorum-restore.sh show 4.18+); when the API and the
// host disagree the host wins and the conflict is reported. 4.5-4.17 is
// GenerationClassic (the runbook above), 4.18+ GenerationEtcdOnly.
//
// The procedures follow the release they run on:
//
//   - restore.Run decides the generation first (a resumed run keeps the
//     one it recorded) and builds the classic plan or, on 4.18+, the
//     etcd-only one (only etcd stopped and restored, the quorum guard off
//     while the cluster settles, back on at the end and on every exit
//     path); restore.Plan, which does no I/O, builds the etcd-only plan
//     when restore.Options.Release states a 4.18+ version, and
//     restore.ResolvePlan returns the plan Run will run (deciding as Run
//     does, reading only) with its restore.ProcedureChoice.
//   - member.ReplacePlan's "release" step reads the ClusterVersion
//     (member.Deps.Config): from 4.11 on it turns the
//     quorum guard off after removing the member and back on before the
//     verification, and (2.4.1) deletes the failed node; an Active
//     ControlPlaneMachineSet re-creates the master on any release.
//   - lifecycle.ShutdownPlan's current-release checks (kubelet signer expiry,
//     cordon, drain) are options that work on every release.
//
// The restore plans name the decision and its evidence in their first step
// and in their dry run; member.ReplacePlan in its "release" step, one of
// the read-only checks its dry run runs (member.ChooseProcedure names the
// choice without the plan).
//
// One shape for every procedure: a builder XPlan(deps, opts) returns a
// *plan.Plan without any I/O (clients and hosts in a Deps struct, tunables
// with documented zero values in an Options struct whose Validate runs
// before anything is built: backup.TakePlan, lifecycle.ShutdownPlan,
// lifecycle.RestartPlan, member.ReplacePlan, restore.Plan,
// restore.QuorumRestorePlan, offsite.StreamPlan); Describe lists
// it, and Run(ctx, plan.RunOptions) runs it with one event type
// (plan.Event: step, status, message, bytes done and total), a dry run
// (RunOptions.DryRun: read-only steps run, the others report what they
// would do), resume from a State, and parallel fan-out (a shutdown tells
// N hosts at once, each with its own events). A plan's typed outcome, when
// it has one, goes to Options.Result. restore.Run and
// restore.RunQuorumRestore, which decide the release before they build
// and keep their state on the recovery host, take the same deps and
// options and a plan.RunOptions (DryRun, Report, Now; no State):
// restore.Run(ctx, restore.Deps{...}, restore.Options{...},
// plan.RunOptions{DryRun: true}). The runbook card's single calls
// (backup.Snapshot, member.FindUnhealthyMember, member.RemoveMember,
// member.DeleteMemberSecrets, lifecycle.ForceRedeploy,
// lifecycle.WaitAllNodesAtLatestRevision, certs.ApproveNodeBootstrapperCSRs)
// and the calls the plans' steps make (lifecycle.WaitForStableCluster,
// member.StopEtcdMember, member.RecreateMachine) report their progress
// through the context: as the calling step's
// Progress events inside a plan (plan.ReportProgress, plan.ReportBytes), or
// to plan.WithReport outside one. ForceRedeploy returns the
// RedeployRecord that WaitAllNodesAtLatestRevision takes as WaitOptions.After,
// so the wait never returns on the state from before the redeployment.
//
// # Errors
//
// Every package follows one convention, so one errors.Is / errors.As habit
// serves them all:
//
//   - A failure a caller may branch on has one exported sentinel, ErrX, in
//     the package whose API returns it, and only there: no two packages
//     declare a sentinel for the same failure (a restore of a corrupt
//     snapshot returns backup.ErrHashMismatch, a restore run refused for
//     another run's state member.ErrAnotherRunUnfinished), and none lives
//     in internal/ (backup.ErrUnsafeEntry is the archive reader's value).
//   - Detail travels in a typed error, *XError, found with errors.As. It
//     names its kind with an Is method that matches its sentinel, and its
//     Unwrap returns only its causes (the I/O or API error underneath), so
//     errors.Is matches both the kind and the cause. No typed error
//     unwraps to its sentinel.
//   - An error that says where rather than what, such as
//     *offsite.ObjectError (the operation and the object key),
//     *backup.SnapshotError (the phase and the member),
//     *backup.PrecheckError and *restore.PreflightError (the check that
//     failed), has the shape of *fs.PathError: it is not a kind of its own and has no
//     sentinel; its Unwrap returns the error underneath, which carries
//     the kind (backup.ErrHashMismatch, offsite.ErrWrongIdentity, a
//     storage error), so errors.Is finds the kind through it and
//     errors.As finds the place.
//   - Options and dependencies the caller got wrong have one kind for
//     every package: ErrInvalidOptions, declared here, carried by an
//     *OptionsError that names the option and the reason. Every Validate
//     method, XPlan builder and single call returns it before any side
//     effect, nil clients and hosts included; no input makes a call panic.
//     Its Option is qualified by the struct the caller fills in
//     ("backup.TakeOptions.Dir", "member.Deps.Etcd",
//     "offsite.UploadOptions.Destination.URL"), by the function for an
//     argument ("retention.Apply store"), or is an environment variable
//     ("ETCDCTL_DIAL_TIMEOUT"); it is "" only for a combination of fields,
//     all named in the reason. The message reads "invalid options:
//     backup.TakeOptions.Dir: is required".
//   - A panic of code the caller gave lifeboat (a plan step's Run, DryRun
//     or Fanout, a Report callback or State, a client, host, checker or
//     logger in a Deps or Options struct) never ends the caller's process
//     where lifeboat runs it on a goroutine of its own (a plan's fan-out,
//     backup.Snapshot's receiver, certs' parallel approvals, health
//     checks) or runs it for a plan: it comes back as the call's error, a
//     *PanicError of kind ErrPanicked, declared here for every package,
//     naming what panicked (Op) and carrying the value and a short stack
//     (Value, Stack); it unwraps to the value when that is an error. A
//     plan step that panicked failed and runs again on resume.
//   - A procedure that stopped before it changed anything on the cluster
//     or its hosts says so whatever the plan: its *plan.StepError matches
//     plan.ErrNothingChanged (a failed ReadOnly check before any step that
//     changes things, such as a restore's verify-backup refusing the
//     backup, or any failure of a dry run), so "refused, start afresh"
//     and "failed, resume" are one errors.Is apart.
//   - Everything else is wrapped with %w and names the operation and its
//     target.
//
// Each package's doc lists its sentinels and typed errors, and its
// errors_test.go produces each of them and checks it with errors.Is or
// errors.As (TestEveryErrorTargetIsPinned fails for one left out).
//
// Supporting packages: host (root access to a master over SSH or
// locally) and host/debugpod (through a debug pod), etcdconn (etcd clients
// from ETCDCTL_* variables or TLS files), plan (dry-run, progress and
// resume for multi-step procedures), restore/inprocess (the in-process
// snapshot restore, kept apart so printing a plan stays light), and for
// tests: clustertest (a simulated OpenShift control plane on real etcd and
// a real kube-apiserver, for lifeboat's tests and yours), host/hosttest and
// etcdtest (fakes of the host and etcd interfaces for unit tests of logic).
package lifeboat
