// Package backup takes and checks etcd backups of an OpenShift 4 cluster:
// runbook chapter 1, "Backing up etcd" (section 1.1, "Backing up etcd
// data"), done the way the cluster's cluster-backup.sh does it, with the
// checks the script leaves to its reader.
//
// Runbook steps covered:
//
//   - The prerequisite "check whether the cluster-wide proxy is enabled":
//     ReadClusterInfo returns the Proxy settings, whose Env gives the
//     HTTP_PROXY, HTTPS_PROXY and NO_PROXY entries to export.
//   - "Do not take an etcd backup before the first certificate rotation
//     completes": CheckCertificateRotation.
//   - "Run the cluster-backup.sh script": TakePlan, whose steps run the script's
//     checks (CheckOperators: the kube-apiserver, kube-controller-manager,
//     kube-scheduler and etcd ClusterOperators are not Progressing;
//     skipped with Force, which marks the files __POSSIBLY_DIRTY__), checks
//     free space (CheckFreeSpace), archives the static pod resources
//     (ArchiveStaticResources), saves the snapshot (Snapshot) and records
//     a Manifest. The two files and their names are the script's:
//     snapshot_<YYYY-MM-DD_HHMMSS>.db and
//     static_kuberesources_<YYYY-MM-DD_HHMMSS>.tar.gz, mode 0600, so a
//     backup taken by lifeboat restores with cluster-restore.sh and one
//     taken by the script restores with lifeboat.
//   - Before a restore (chapter 5.3), "the backup must be whole": Verify
//     (a local directory) and VerifyOn (a directory on any host.Host, read
//     as a stream) and VerifySnapshot (a local snapshot file): the one verifier
//     of the backup format, which package restore uses wherever the backup lies.
//     It accepts what the cluster wrote too: every release's
//     cluster-backup.sh (forced runs reported possibly dirty) and one folder
//     of its automated backups, which Folders and LatestFolder (and their
//     On variants) list and pick in a PVC root or /var/lib/etcd-auto-backup.
//
// Snapshot streams from one healthy member into "<name>.part" and checks
// the sha256 etcd appends to the stream while it arrives, so a snapshot is
// never read twice: the script's "etcdctl snapshot save" followed by
// "etcdutl snapshot status" reads and maps the whole database a second
// time. One goroutine receives while another hashes and writes, and memory
// stays at a few 32 KiB messages whatever the database size.
//
// # Errors
//
// Callers branch with errors.Is and errors.As:
//
//   - *SnapshotError (Snapshot, VerifySnapshot; Op says which phase):
//     ErrHashMismatch, ErrNoHash, ErrTruncated (also for a stream broken
//     by a member crash), ErrShortWrite, ErrNoHealthyMember,
//     ErrCorruptDatabase, context.Canceled / DeadlineExceeded, syscall
//     errors such as ENOSPC. No file is left behind.
//   - *PrecheckError (TakePlan's precheck step, Check*; Check names the check, Fix the
//     remedy): ErrOperatorProgressing, ErrOperatorStatusUnknown,
//     ErrTooEarly, ErrInsufficientSpace, ErrClusterInfo.
//   - ErrResourcesMissing (ArchiveStaticResources): a static pod resource
//     directory the manifests reference is not on the host.
//   - *VerifyError (Verify, VerifyOn; matches ErrInvalidBackup) lists every Problem and unwraps to all of
//     them: ErrMissingFile, ErrAmbiguous, ErrBackupRoot, ErrTimestampMismatch,
//     ErrHashMismatch, ErrNoHash, ErrTruncated, ErrCorruptDatabase,
//     ErrBadArchive, ErrBadManifest.
package backup
