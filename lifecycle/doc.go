// Package lifecycle stops, starts and rolls out an OpenShift control plane.
//
// Runbook steps covered:
//
//   - Chapter 3, shutting the cluster down gracefully: Shutdown.
//   - Chapter 4, restarting the cluster gracefully: Restart (masters Ready,
//     pending CSRs reviewed and approved, then workers, then no degraded
//     ClusterOperator).
//   - The rollouts of 2.4.1 (verification), 2.4.2 step 4 and 5.3.1 steps
//     10-12: ForceRedeploy sets a unique spec.forceRedeploymentReason on the
//     etcd, kubeapiserver, kubecontrollermanager or kubescheduler operator
//     object, and WaitAllNodesAtLatestRevision watches its
//     NodeInstallerProgressing condition until every node is at the latest
//     revision (AllNodesAtLatestRevision).
package lifecycle
