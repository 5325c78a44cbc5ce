// Package lifecycle stops, starts and rolls out an OpenShift control plane.
//
// Runbook steps covered:
//
//   - Chapter 3, shutting the cluster down gracefully: ShutdownPlan(deps,
//     opts), a plan.Plan built without I/O. It refuses unless the caller
//     shows a verified etcd backup younger than MaxBackupAge (backup.Verify)
//     or an explicit Override reason, lists the nodes and runs
//     "shutdown -h 1" on each through host.Host.Shutdown, workers first, at
//     most MaxParallel at once (a parallel plan step, one event per node).
//     ShutdownResult.Reminder and UnschedulableMasters carry the runbook's
//     note on drained masters.
//   - Chapter 4, restarting the cluster gracefully: RestartPlan(deps,
//     opts), run after the caller started the machines. It waits for the masters to be Ready,
//     reviewing the pending CSRs meanwhile and approving the valid ones
//     (certs.ApprovePendingCSRs), then the workers the same way, then for
//     every ClusterOperator to be Available and not Degraded; with
//     UncordonMasters it marks unschedulable masters schedulable.
//   - The rollouts of 2.4.1 (verification), 2.4.2 step 4 and 5.3.1 steps
//     10-12: ForceRedeploy sets a unique spec.forceRedeploymentReason on the
//     etcd, kubeapiserver, kubecontrollermanager or kubescheduler operator
//     object, and WaitAllNodesAtLatestRevision watches its
//     NodeInstallerProgressing condition until every node is at the latest
//     revision (AllNodesAtLatestRevision).
//
// The 4.18+ restore's quorum guard and stable wait: DisableQuorumGuard and
// RestoreQuorumGuard merge-patch the key QuorumGuardOverride of
// spec.unsupportedConfigOverrides on etcds/cluster, keeping every other
// override key; Disable returns the override as found (a QuorumGuard,
// JSON-serialisable, to record before the change) and Restore puts exactly
// that back, so a guard that was already off stays off.
// WaitForStableCluster waits, as "oc adm wait-for-stable-cluster", until
// every ClusterOperator has been Available=True, Progressing=False,
// Degraded=False for a minimum stable period (DefaultMinStablePeriod, 5
// minutes), and fails with a *NotStableError (ErrClusterNotStable) naming
// the unstable operators and their conditions.
//
// The rollout targets are the Operator constants Etcd, KubeAPIServer,
// KubeControllerManager and KubeScheduler, each naming the operator.openshift.io/v1
// object named "cluster". Revisions reads where a rollout stands
// (RevisionStatus.Summary speaks the operator's words: "2 nodes are at
// revision 6; 1 nodes are at revision 7"). ForceRedeploy returns a
// RedeployRecord (the reason and the revision of the object it patched);
// pass it as WaitOptions.After, so that the wait cannot return on the state
// from before the redeployment.
//
// A procedure that may be resumed after a crash forces its redeployments
// with ForceRedeployOnce: the reason and the revision before it are saved in
// a RedeployStore (the plan's persisted state, or AnnotationRedeployStore in
// the cluster) before the patch, and a resumed call finding the object
// already carrying the recorded reason patches nothing and returns the
// recorded revision to wait on.
//
// Every call takes ctx first and returns promptly when it ends, including
// between retries and inside the wait.
//
// Errors of the rollouts: ForceRedeploy wraps the API error after its
// conflict retries, and ErrReasonAlreadySet when the reason asked for is
// already set (a no-op patch); WaitAllNodesAtLatestRevision, when its
// context ends first, returns an error wrapping both ctx.Err() and
// ErrRolloutNotFinished, and when the operator leaves a forced redeployment
// unanswered (no new revision, no progress) for WaitOptions.StallTimeout, a
// *RolloutStalledError (errors.Is ErrRolloutStalled) naming the reason.
//
// Errors of ShutdownPlan and RestartPlan: lifeboat.ErrInvalidOptions (a
// *lifeboat.OptionsError naming the option, e.g. "lifecycle.Deps.Kube" or
// "lifecycle.ShutdownOptions.MaxParallel", before the plan is built), then, from the run, ErrNoRecentBackup (no verified backup
// recent enough, and no override; wraps the *backup.VerifyError when the
// backup does not verify), ErrShutdownIncomplete (some hosts refused or
// were unreachable: ShutdownResult.Nodes says which), and *RecoveryError,
// for which errors.Is(err, ErrClusterDidNotRecover) holds, when a phase of
// RestartPlan timed out: it names the phase and what is not ready, and the
// runbook's answer is to restore a previous cluster state (5.3,
// restore.Plan). The run wraps a step's error in a *plan.StepError, and the
// parallel shutdown's node errors in a *plan.FanoutError.
package lifecycle
