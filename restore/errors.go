package restore

import (
	"errors"
	"fmt"
)

// The backup format's sentinels (backup.ErrHashMismatch, backup.ErrNoHash,
// backup.ErrTruncated, backup.ErrCorruptDatabase, backup.ErrInvalidBackup,
// backup.ErrUnsafeEntry) and *backup.SnapshotError live in package backup,
// with one meaning wherever a backup or a snapshot is checked; restore
// returns them unchanged.

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
	// image instead ([RestorePod]). See [Decide].
	ErrNeedsRestorePod = errors.New("restore must run in the cluster's etcd image")
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

// Is matches ErrTargetNotEmpty: the kind of this error (see package lifeboat, Errors).
func (e *TargetNotEmptyError) Is(target error) bool { return target == ErrTargetNotEmpty }

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

// Is matches ErrVersionMismatch: the kind of this error (see package lifeboat, Errors).
func (e *VersionMismatchError) Is(target error) bool { return target == ErrVersionMismatch }

// NeedsRestorePodError carries the decision that refused an in-process
// restore.
type NeedsRestorePodError struct {
	Decision Decision
}

func (e *NeedsRestorePodError) Error() string {
	return fmt.Sprintf("%v: %s", ErrNeedsRestorePod, e.Decision.Reason)
}

// Is matches ErrNeedsRestorePod: the kind of this error (see package lifeboat, Errors).
func (e *NeedsRestorePodError) Is(target error) bool { return target == ErrNeedsRestorePod }
