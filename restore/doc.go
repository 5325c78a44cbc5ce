// Package restore implements runbook chapter 5, disaster recovery: turning
// an etcd snapshot into a data directory (RestoreSnapshot), and the
// multi-host procedure of section 5.3, "Restoring to a previous cluster
// state", as a plan that can be printed, run, interrupted and resumed
// (Plan, Run). Section 5.2 (lost master hosts) is the same plan with the
// survivors only (Deps.Others may be empty) and the lost masters' Machines
// re-created (Options.LostMasters); section 5.4 (expired control-plane
// certificates) is its last step, the approval of pending node-bootstrapper
// CSRs through certs.ApproveNodeBootstrapperCSRs.
//
// # Restoring a snapshot
//
// RestoreSnapshot restores in process with a DataDirWriter, normally
// inprocess.WriteDataDir: etcd's etcdutl library, the code behind "etcdutl
// snapshot restore", in package restore/inprocess so that importing
// restore does not build the etcd server. Deps.InProcess gives the plan
// the same writer; without one the plan restores through the restore pod.
// It restores a new single-member cluster (member
// name, peer URL, a fresh "openshift-etcd-<random>" token). Before writing
// anything it refuses a non-empty target (lost+found, as on a fresh ext4
// mount, is tolerated), a snapshot whose size is neither a database nor a
// database plus etcd's sha256 trailer, a backup of another z-stream than
// the cluster's (the runbook: "a 4.5.2 cluster must use an etcd backup
// taken from 4.5.2") and decides whether the in-process restore is safe
// (Decide). The trailer is checked by etcdutl in the pass that copies the
// database, not in an extra read before it. The restore is staged on the
// target's own filesystem (inside the target when it exists, which may be a
// mount point) and renamed into place.
// By default the revision is bumped and the new revision marked compacted,
// so that watch caches and informers of the old cluster are told "too old
// resource version" instead of being served stale objects. The bump is sized
// from raft indexes only: the gap between revision.json's
// maxRaftIndex and the snapshot's consistent index, which bounds the
// revisions handed out after the snapshot on restored and never-restored
// clusters alike, plus slack for a stale revision.json, and never less than
// the 1.2 × maxRaftIndex the cluster's restore pod adds; without a usable
// revision.json it is one billion. When the plan uses the cluster's own
// restore pod (the restore-etcd-pod/pod.yaml of
// /etc/kubernetes/static-pod-resources/etcd-certs/configmaps), which bumps
// by 1.2 × the maxRaftIndex of /var/lib/etcd-backup/revision.json, it
// stages there a copy of this run's revision.json whose maxRaftIndex is
// scaled so that the pod's bump is at least the one sized above; the copy
// records the original value and path, and the original is kept aside,
// never edited.
//
// # Version safety
//
// Decide compares the snapshot's storage version and the cluster's etcd
// version with lifeboat's etcd libraries (Decision.LibraryEtcdVersion). When the
// cluster's etcd is older than the libraries, etcdutl might write a data
// directory that etcd cannot read, so the plan does not restore in process:
// it stages the snapshot in /var/lib/etcd-backup/snapshot.db and starts a
// restore static pod that runs the cluster's own etcd image, as
// cluster-restore.sh does: the cluster's restore-etcd-pod when the host has
// it, else one lifeboat builds from the host's etcd-pod.yaml, whose
// script restores with the image's etcdutl (or etcdctl) and then runs the
// original etcd command. A snapshot newer than the cluster's etcd is refused.
// What is tested: Decide's table; the in-process restore against a real etcd
// started on the result (data, bumped revision, reads and watches at old
// revisions compacted); the restore pod's manifest and its script, run with
// the real etcdutl binary standing for the image's. The restore pod has not
// run under a real kubelet: the simulated cluster runs etcd 3.7, so its
// drills take the in-process path.
//
// # The procedure generation
//
// Run decides the cluster's generation before it builds its plan, with
// release.Detect: from ClusterVersion "version" through Deps.Config
// (bounded by Options.Release.APITimeout), and from the recovery host's
// etcd static pod and /usr/local/bin scripts when the API does not answer
// (the normal case during a restore); Options.Release states the release
// instead, and a resumed run keeps the generation its state recorded
// (StateData.Release; mid-restore the host's manifests are moved aside).
// OpenShift 4.5 to 4.17 (GenerationClassic) gets the classic procedure of
// the 4.5 runbook; 4.18 and later (GenerationEtcdOnly) the etcd-only
// restore (see Plan and GuardRecord): only etcd is stopped
// and restored, kube-apiserver, kube-controller-manager and kube-scheduler
// keep running, and the quorum guard is off while the operator brings the
// other members back, then put back as found, on every exit path. Plan,
// which does no I/O, builds the etcd-only plan only when Options.Release
// states such a release; ResolvePlan returns the plan Run will run,
// deciding first as Run does (reading only), with its ProcedureChoice.
//
// The classic plan of 4.11-4.17 (and of a release
// nothing names, since the API is down during most restores) turns the
// quorum guard off before the forced etcd redeployment and back on once
// that rollout completed, as the documentation of those releases does;
// without it their operator makes no etcd revision for a cluster of one
// member and the restore stalls. The guard record, its restore on every
// exit path and on resume are the etcd-only plan's.
//
// # Restoring quorum without a backup
//
// QuorumRestorePlan and RunQuorumRestore are 4.18's "Restoring etcd
// quorum for high availability clusters" (quorum-restore.sh): a majority
// of members is lost, one member's data directory survived, no backup is
// used. A release stated in QuorumRestoreOptions.Release without the
// procedure is refused when the plan is built (a *lifeboat.OptionsError
// whose cause is a *QuorumRestoreReleaseError). Before anything is
// touched the check step refuses a detected release without the procedure
// (*QuorumRestoreReleaseError, ErrNoQuorumRestore:
// on 4.5-4.17 restore a backup with Run), a recovery host without
// member/snap/db and member/wal (*NotMemberDirError, ErrNotMemberDir), and
// any other master that neither answers (Deps.Others: its
// etcd is stopped and proven stopped by its containers being gone) nor is
// attested stopped (Unreachable, recorded in the state and reported as
// unsafe), including every member the survivor's etcd-pod.yaml names
// (*OthersNotStoppedError, ErrOthersNotStopped; all inside a
// *PreflightError). The survivor's member is then started from its data
// directory, nothing in it moved or deleted, by its own etcd pod with
// ETCD_FORCE_NEW_CLUSTER=true and ETCD_FORCE_NEW_CLUSTER_BUMP_AMOUNT set to
// floor(0.2 × maxRaftIndex) of revision.json (1e9 without),
// the flags of the cluster's quorum-restore-pod.yaml given as etcd's
// environment so that any command form takes them; once it serves the API
// its own pod is put back, and the quorum guard / stable wait / guard
// sequence of the etcd-only restore follows while the operator adds the
// other members back. Upstream etcd has no --force-new-cluster-bump-amount
// (the cluster's etcd has): the run checks the revision it serves and
// records whether the bump was applied (QuorumRecord.BumpApplied).
//
// verify-backup reports the decision as a progress line ("release 4.20.3:
// generation etcd-only (4.18+), from ClusterVersion ...: completed
// version 4.20.3"), in the dry run too, and the state records it. The
// classic plan on an etcd-only cluster (Plan without Options.Release) is
// refused before any host is touched (*ReleaseMismatchError, matching
// ErrProcedureNotForRelease, in a *PreflightError of check "release"),
// unless Options.AllowClassicOnEtcdOnly accepts the classic procedure
// there (reported and recorded). An unsupported release (before 4.5) or a
// conflict refused by Options.Release.RefuseConflict are refused the same
// way. When nothing decides (no ClusterVersion answers and the recovery
// host shows neither an etcd manifest nor a restore script), the classic
// procedure runs and the line says so: every etcd-only host shows its
// etcd-rev container or scripts.
//
// # The plan
//
// Every procedure here has lifeboat's one shape: Plan(deps, opts) and
// QuorumRestorePlan(deps, opts) build without I/O from Deps (the hosts,
// the API clients, the in-process writer) and the procedure's options
// (Options, QuorumRestoreOptions: tunables with documented zero values,
// checked by their Validate before anything is read), and Run and
// RunQuorumRestore take the same two plus plan.RunOptions (DryRun,
// Report, Now; State must be nil, the run keeping its own).
//
// Plan lists the runbook's steps (see Plan for the list); Run executes them,
// reporting each start, progress message and end, and keeps its state as JSON
// on the recovery host (Options.StatePath), written atomically after every
// step, so that a run stopped by a crash or a cancelled context resumes at
// the step that was interrupted. The state records the run's identity
// (RunIdentity: the backup snapshot's sha256, the recovery host, the other
// and the lost masters, the restore method): only a run with the same
// identity resumes it; another one is refused with *AnotherRunError while
// it is unfinished (Options.AbandonUnfinished sets it aside, kept), and a
// finished run's state is renamed with its finish time so that the next
// run starts fresh. Every step is idempotent, and "already done" is judged
// by content: a staged snapshot, a copied backup file or a static pod
// file is reused only when its sha256 (or bytes) match, never by name or
// size. Nothing is
// deleted: manifests, data directories and static pod resources in the way
// are moved aside (into Options.AsideDir, or /var/lib/etcd-backup for the
// recovery host's data as cluster-restore.sh does), each move recorded in
// the state before it is made; StateData.Moves lists them to be put back. A
// backup that fails its checks stops the plan before anything is written on
// any host, and so does any check a later step would apply (the hosts
// answer, the archive's links, free space, versions, the restored member,
// the restore pod's image, revision.json): verify-backup applies them all
// first (*PreflightError).
//
// # A backup kept off the cluster
//
// Options.Source restores a backup from object storage (the runbook:
// "store them in a secure location, ideally outside the OpenShift
// Container Platform environment"): a *offsite.RestoreSource names the
// destination, the backup (or the newest verified one) and the age
// identities. Source is an interface of this package that
// backup/offsite implements, so that restoring from a local directory
// does not link the storage clients. verify-backup fetches the backup
// first, in a dry run too: it streams through decryption, decompression
// and every checksum into a new directory on the machine running lifeboat
// (Options.FetchDir), and only a backup that passed is then verified and
// copied to the recovery host by copy-backup like any local backup. A
// wrong identity, an altered, truncated or swapped object or a damaged
// manifest is refused there, before any host is touched, with a
// *PreflightError of check "source" wrapping offsite's *ObjectError and
// sentinel (offsite.ErrWrongIdentity, offsite.ErrMismatch,
// backup.ErrHashMismatch, backup.ErrTruncated, backup.ErrBadManifest,
// retention.ErrNotFound). The download's bytes are verify-backup's
// Progress events (plan.ReportBytes). The fetched copy is removed
// when Run returns; a resumed run fetches again to compare identities.
//
// # Errors
//
// The backup format (file names, backup.json, the snapshot and archive
// checks and their sentinels) has one home, package backup: a backup is
// verified by backup.VerifyOn wherever it lies, and refused with a
// *backup.VerifyError listing every problem (backup.ErrMissingFile,
// ErrTimestampMismatch, ErrHashMismatch, ErrCorruptDatabase,
// ErrBadArchive, ...). Typed errors callers branch on, all matching their
// sentinel with errors.Is: *TargetNotEmptyError (ErrTargetNotEmpty),
// *SnapshotError (backup's type: backup.ErrHashMismatch, ErrNoHash,
// ErrTruncated, ErrCorruptDatabase; restore declares none of them),
// *VersionMismatchError
// (ErrVersionMismatch, with both versions), *NeedsRestorePodError
// (ErrNeedsRestorePod), ErrSnapshotTooNew, *PreflightError (its Check,
// wrapping the sentinel of the check), *ReleaseMismatchError
// (ErrProcedureNotForRelease, with the release.Decision; in a
// *PreflightError of check "release", as are release.ErrConflict and
// release.ErrUnsupportedRelease), ErrRestorePodImage,
// lifeboat.ErrInvalidOptions (a *lifeboat.OptionsError naming the option,
// e.g. "restore.Options.BackupDir", "restore.Deps.Kube" or
// "restore.QuorumRestoreOptions.Unreachable"),
// *AnotherRunError (ErrAnotherRunUnfinished, naming
// both runs), and for RunQuorumRestore *QuorumRestoreReleaseError
// (ErrNoQuorumRestore), *NotMemberDirError (ErrNotMemberDir) and
// *OthersNotStoppedError (ErrOthersNotStopped). A failed step of Run is a *plan.StepError naming the
// step and wrapping the cause; an unsafe backup archive wraps
// backup.ErrUnsafeEntry.
package restore
