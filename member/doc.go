// Package member replaces an unhealthy etcd member of an OpenShift 4
// control plane: chapter 2 of the "Backup and restore" runbook.
//
// Runbook steps covered:
//
//   - 2.2, identifying an unhealthy member: FindUnhealthyMember reads the
//     etcd operator's EtcdMembersAvailable condition (ParseMembersAvailable)
//     and checks every member's own health in parallel (through the
//     member's client URL, HealthChecker: a
//     linearizable read for a voting member, a serializable one for a
//     learner), and says when the two disagree.
//   - 2.3, the member's state: FindUnhealthyMember runs the runbook's
//     checks in its order (machine instanceState, node unreachable taint or NotReady,
//     pod etcd-<node> in Error or CrashLoopBackOff, or Running between two
//     crashes) and returns a State with
//     evidence in the runbook's words; State.Procedure names 2.4.1 or 2.4.2.
//     A member that answers again is Healthy: it needs no replacement.
//   - 2.4.1 and 2.4.2 step "remove the unhealthy member": RemoveMember,
//     quorum-guarded and idempotent; MemberTable prints the list as
//     "etcdctl member list -w table" does.
//   - "remove the old secrets": DeleteMemberSecrets.
//   - 2.4.1 step 3, "delete and recreate the master machine":
//     RecreateMachine (it builds the runbook's edited
//     new-master-machine.yaml itself).
//   - 2.4.2 step 1, "stop the crashlooping etcd pod": StopEtcdMember, on a
//     host.Host (SSH, debug pod or clustertest), moving aside, never deleting.
//   - The whole procedures as plans that can be listed, checked (a dry
//     run runs the read-only first steps: identify, check-quorum,
//     check-backup, release) and run with progress: ReplacePlan (2.4.1
//     or 2.4.2, chosen by ReplaceOptions.State); its last step is Verify / WaitVerified
//     (exactly the expected members, started, healthy and voting, etcd pods Running
//     on every master). The redeployment and rollout waits are
//     lifecycle.ForceRedeploy and lifecycle.WaitAllNodesAtLatestRevision.
//
// # Run state
//
// ReplacePlan keeps the run's state (JSON) in the cluster, in the
// ConfigMap "lifeboat-member-replacement" (by default) of
// openshift-etcd (ReplaceOptions.StateConfigMap): the plan runs from an
// admin machine, and 2.4.1 loses the master itself, so the cluster, which
// keeps quorum throughout a member replacement, is where a resumed run
// finds it. It records the run's identity (ReplaceIdentity: procedure and
// node), the finished steps with their times, and what they learned (the
// old member's ID, the new node). A run resumed after a crash skips the
// finished steps, so identify and stop-etcd never mistake the new member,
// which joins under the same node name in 2.4.2, for the one to replace.
// When the last step finishes the state is copied to
// "<name>.finished-<UTC time>" (kept for audit) and deleted. The
// unfinished state of another replacement (another node or procedure) is
// refused with *AnotherRunError (ErrAnotherRunUnfinished) unless
// ReplaceOptions.AbandonUnfinished retires it as "<name>.abandoned-<time>".
//
// # etcd access
//
// The package consumes two narrow interfaces that *clientv3.Client
// satisfies: Cluster (MemberList, MemberRemove) and, unexported, Dial, to
// reach one member alone for its health check (give Deps.Health instead
// when Etcd is not a *clientv3.Client).
//
// # Learners
//
// The etcd operator adds a master as a learner and promotes it once it has
// caught up. A learner is a member in its own right here, as in etcd: its
// health is a serializable read (it refuses linearizable ones), a healthy
// learner is never the member to replace and RemoveMember refuses it
// without Force, and quorum counts voting members only.
//
// # Errors
//
//   - lifeboat.ErrInvalidOptions (a *lifeboat.OptionsError naming the
//     option, e.g. "member.ReplaceOptions.BackupDir", "member.Deps.Kube"
//     or "member.RemoveMember cluster"): ReplacePlan, FindUnhealthyMember,
//     Verify and the single calls refused their options or a nil client or
//     host, before any I/O.
//   - ErrQuorumLost (*QuorumLostError): a majority of voting members is down;
//     replacing one member cannot help, restore from a backup instead
//     (restore.Plan, runbook 5.3).
//   - ErrWouldLoseQuorum: RemoveMember refuses a removal that leaves fewer
//     healthy members than a quorum of the rest.
//   - ErrMemberHealthy: RemoveMember refuses to remove a healthy member.
//   - ErrMemberNotFound: lookup found no member of that name.
//   - ErrNoUnhealthyMember: FindUnhealthyMember found nothing to replace.
//   - ErrAnotherRunUnfinished (*AnotherRunError): another replacement's
//     unfinished state is in the cluster; finish or abandon it.
//   - ErrNoMachine (*NoMachineError): the node has no Machine (user-
//     provisioned infrastructure): create the new master the way the
//     original was created.
//
// Every removal or deletion the runbook performs is idempotent here: an
// absent member, a missing secret, an already deleted Machine and an
// already moved manifest or data directory count as done.
package member
