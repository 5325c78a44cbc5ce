package restore

import (
	"errors"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/safetar"
)

// The backup format's sentinels live in package backup, with one meaning
// wherever a backup or a snapshot is checked; restore names the same
// values so that callers testing the restore names keep working.
var (
	// Deprecated: the same value as backup.ErrHashMismatch.
	ErrHashMismatch = backup.ErrHashMismatch
	// Deprecated: the same value as backup.ErrNoHash (a snapshot copied
	// from a data directory needs SnapshotOptions.SkipHashCheck).
	ErrNoHash = backup.ErrNoHash
	// Deprecated: the same value as backup.ErrTruncated.
	ErrTruncated = backup.ErrTruncated
	// Deprecated: the same value as backup.ErrCorruptDatabase.
	ErrCorruptSnapshot = backup.ErrCorruptDatabase
	// Deprecated: the same value as backup.ErrInvalidBackup, which every
	// *backup.VerifyError matches.
	ErrBackupIncomplete = backup.ErrInvalidBackup
)

// ErrUnsafeEntry is wrapped by the error of a restore whose static pod
// resources archive holds an entry that would write outside its target
// (an absolute name, a ".." element, a link escaping the tree, a device):
// nothing of that archive was written. It is the same value as the one
// the archive reader (an internal package) wraps, so errors.Is matches.
var ErrUnsafeEntry = safetar.ErrUnsafeEntry

// SnapshotError reports a snapshot that failed its checks: backup's type.
// Err wraps backup.ErrHashMismatch, ErrNoHash, ErrTruncated,
// ErrCorruptDatabase or an I/O error.
type SnapshotError = backup.SnapshotError

// Sentinel errors of the restore itself; the typed errors below wrap them.
// Test with errors.Is.
var (
	// ErrTargetNotEmpty: the data directory to restore into exists and is
	// not empty. Nothing was changed.
	ErrTargetNotEmpty = errors.New("restore target is not empty")
	// ErrVersionMismatch: the backup was taken from another z-stream than
	// the cluster runs (see [VersionMismatchError]).
	ErrVersionMismatch = errors.New("backup is from another cluster version")
	// ErrSnapshotTooNew: the snapshot's storage version is newer than the
	// cluster's etcd can read, whatever tool restores it.
	ErrSnapshotTooNew = errors.New("snapshot storage version is newer than the cluster's etcd")
	// ErrNeedsRestorePod: restoring in process would write a data directory
	// the cluster's etcd may not read; restore with the cluster's own etcd
	// image instead ([WriteRestorePod]). See [Decide].
	ErrNeedsRestorePod = errors.New("restore must run in the cluster's etcd image")
	// ErrInvalidOptions: an option is missing or malformed.
	ErrInvalidOptions = errors.New("invalid restore options")
	// ErrRestorePodImage: the restore must run in the cluster's etcd image
	// and no etcd pod manifest at hand (the cluster's restore pod, the
	// recovery host's etcd-pod.yaml, the backup's) names one.
	ErrRestorePodImage = errors.New("restore pod image unknown")
)

// TargetNotEmptyError reports the non-empty data directory.
type TargetNotEmptyError struct {
	Dir     string
	Entries []string // up to a few of its entries
}

func (e *TargetNotEmptyError) Error() string {
	return fmt.Sprintf("restore target %s is not empty (holds %v); move it aside first", e.Dir, e.Entries)
}

func (e *TargetNotEmptyError) Unwrap() error { return ErrTargetNotEmpty }

// VersionMismatchError names both versions when the backup's z-stream is
// not the cluster's. The runbook requires a backup from the same z-stream
// ("a 4.5.2 cluster must use an etcd backup taken from 4.5.2").
type VersionMismatchError struct {
	BackupVersion  string
	ClusterVersion string
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("backup was taken from cluster version %s but the cluster runs %s: restore needs a backup from the same z-stream (override with AllowVersionMismatch)", e.BackupVersion, e.ClusterVersion)
}

func (e *VersionMismatchError) Unwrap() error { return ErrVersionMismatch }

// NeedsRestorePodError carries the decision that refused an in-process
// restore.
type NeedsRestorePodError struct {
	Decision Decision
}

func (e *NeedsRestorePodError) Error() string {
	return fmt.Sprintf("%v: %s", ErrNeedsRestorePod, e.Decision.Reason)
}

func (e *NeedsRestorePodError) Unwrap() error { return ErrNeedsRestorePod }
