package restore

import (
	"errors"
	"fmt"
)

// Sentinel errors; the typed errors below wrap them. Test with errors.Is.
var (
	// ErrTargetNotEmpty: the data directory to restore into exists and is
	// not empty. Nothing was changed.
	ErrTargetNotEmpty = errors.New("restore target is not empty")
	// ErrHashMismatch: the snapshot's data does not match the sha256 etcd
	// appended to it (a corrupt snapshot).
	ErrHashMismatch = errors.New("snapshot sha256 mismatch")
	// ErrNoHash: the snapshot has no sha256 trailer (it was copied from a
	// data directory rather than saved from a member) and
	// SkipHashCheck was not set.
	ErrNoHash = errors.New("snapshot has no sha256 trailer")
	// ErrTruncated: the snapshot's size is neither a whole database nor a
	// database plus its trailer, or it is too small to be a database.
	ErrTruncated = errors.New("snapshot truncated")
	// ErrCorruptSnapshot: the snapshot's database cannot be read.
	ErrCorruptSnapshot = errors.New("snapshot database unreadable")
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

// SnapshotError reports a snapshot that failed its checks. Err wraps
// ErrHashMismatch, ErrNoHash, ErrTruncated, ErrCorruptSnapshot or an I/O
// error.
type SnapshotError struct {
	Path string
	Err  error
}

func (e *SnapshotError) Error() string { return fmt.Sprintf("snapshot %s: %v", e.Path, e.Err) }
func (e *SnapshotError) Unwrap() error { return e.Err }

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
