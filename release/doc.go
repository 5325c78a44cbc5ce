// Package release decides which generation of the OpenShift
// disaster-recovery procedures applies to a cluster, and says which
// evidence decided.
//
// The cluster-etcd-operator changed the procedures once between 4.5 and
// today:
//
//	GenerationClassic   4.5-4.17  the 4.5 runbook: cluster-restore.sh stops the
//	                              etcd, kube-apiserver, kube-controller-manager
//	                              and kube-scheduler static pods
//	GenerationEtcdOnly  4.18+     etcd-only restore (disable-etcd.sh on every
//	                              control-plane host, a restore pod with
//	                              --mark-compacted and a bump of 1.2 × maxRaftIndex
//	                              from revision.json, quorum guard off until the
//	                              cluster is stable) and quorum-restore.sh
//
// The boundary is the operator's release-4.18 branch: disable-etcd.sh,
// quorum-restore.sh, the etcd-rev container ("cluster-etcd-operator rev",
// writing /var/lib/etcd/revision.json) and the etcd-only cluster-restore.sh
// landed on its main branch in August and September 2024, after
// release-4.17 branched, and were never backported; the 4.18 release notes
// introduce the new restore and quorum-restore.sh. One feature does cross
// the boundary: the classic cluster-restore.sh's opt-in revision bump
// (CapabilityRestoreBumpOptIn), backported in July 2023 to the 4.11 to 4.14
// branches, so present in some 4.11-4.17 z-streams; only the script on the
// host shows it. The quorum guard override the 4.18 restore uses
// (unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd)
// is honoured by the operator of every supported release.
//
// # How the generation is chosen
//
// Detect(ctx, Deps{Config, Host}, Options) looks, in this order:
//
//  1. an override, Options.Version or Options.Generation: it wins (the
//     sources are still read and reported);
//  2. the ClusterVersion: the newest Completed entry of status.history. An
//     upgrade in progress (a Partial entry above it) does not count: the
//     completed version's procedure applies and the target is reported;
//  3. the recovery host, when the API gave nothing (no client, down,
//     timed out, no Completed entry, unparsable version): an etcd-rev
//     container in any etcd manifest (live, stopped, newest revision),
//     disable-etcd.sh or quorum-restore.sh in /usr/local/bin, a
//     cluster-restore.sh that knows etcd-rev show GenerationEtcdOnly
//     (revision.json is reported but decides nothing: other tools write it
//     too); an etcd manifest or cluster-restore.sh without them shows
//     GenerationClassic.
//
// When the ClusterVersion and the host disagree, the host wins (its scripts
// and static pod are what exist there) and Decision.Conflict is set, or
// Detect refuses with ErrConflict if Options.RefuseConflict. Every piece of
// evidence read is in Decision.Evidence, the deciding ones marked; a plan's
// dry run prints Decision.String().
//
// # Errors
//
// lifeboat.ErrInvalidOptions (Validate, before any I/O: a
// *lifeboat.OptionsError naming the field, e.g. "release.Options.Version";
// embedded in another package's options it is named under that field, e.g.
// "restore.Options.Release.Version"; with ErrInvalidVersion,
// ErrInvalidGeneration or ErrUnsupportedRelease for a bad override),
// ErrUnsupportedRelease (the cluster's completed version is before 4.5),
// ErrConflict, *UndecidedError matching ErrUndecided (nothing decides; it
// carries the evidence and matches its read errors), and the context's
// error wrapped when ctx ends. Read failures of a source are evidence, not
// errors, while another source can decide.
//
// restore.Plan decides the generation before it touches a host, reports
// it with its evidence, and refuses its classic procedure on an etcd-only
// cluster unless the caller accepts it (lifeboat does not implement the
// etcd-only restore yet). member and lifecycle do not use it yet.
package release
