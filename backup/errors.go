package backup

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/safetar"
)

// Sentinel errors. Functions wrap them in typed errors ([*SnapshotError],
// [*PrecheckError], [*VerifyError]); test them with errors.Is.
var (
	// ErrHashMismatch: the sha256 etcd appended to the snapshot does not
	// match the data received (or stored), or a file does not match the
	// checksum recorded in the backup manifest, or (backup/offsite) a
	// stored object does not match the size and sha256 its manifest
	// records or fails age's authentication: the bytes were altered.
	ErrHashMismatch = errors.New("sha256 mismatch")
	// ErrNoHash: the snapshot ends without etcd's 32-byte sha256 trailer
	// (its size is a multiple of 512 bytes), so it cannot be checked.
	ErrNoHash = errors.New("snapshot has no sha256 trailer")
	// ErrTruncated: the snapshot stream or file ended early (its size is
	// neither a whole database nor a database plus trailer), or the stream
	// broke before etcd finished sending it, or (backup/offsite) a stored
	// object is shorter than its manifest records.
	ErrTruncated = errors.New("backup data truncated")
	// ErrNoHealthyMember: no etcd endpoint answered a status request
	// without errors.
	ErrNoHealthyMember = errors.New("no healthy etcd member")
	// ErrShortWrite: the destination accepted fewer bytes than written
	// (typically a full disk).
	ErrShortWrite = errors.New("short write")

	// ErrOperatorProgressing: one of the kube-apiserver,
	// kube-controller-manager, kube-scheduler or etcd ClusterOperators is
	// Progressing (a rollout is under way), so the static pod resources and
	// the snapshot may not match.
	ErrOperatorProgressing = errors.New("cluster operator is progressing")
	// ErrOperatorStatusUnknown: a ClusterOperator or its Progressing
	// condition could not be read.
	ErrOperatorStatusUnknown = errors.New("cluster operator status unknown")
	// ErrTooEarly: the cluster is younger than its first certificate
	// rotation (24 h after installation); a backup would hold certificates
	// that expire.
	ErrTooEarly = errors.New("cluster has not completed its first certificate rotation")
	// ErrInsufficientSpace: the backup directory has less free space than
	// twice the etcd database size.
	ErrInsufficientSpace = errors.New("insufficient free space")
	// ErrClusterInfo: a cluster object the backup needs (ClusterVersion,
	// Proxy, APIServer) could not be read.
	ErrClusterInfo = errors.New("cluster information unavailable")

	// ErrResourcesMissing: a static pod resource directory the backup needs
	// does not exist on the host.
	ErrResourcesMissing = errors.New("static pod resources missing")
	// ErrUnsafeResource: a static pod resource directory holds a symbolic
	// link that leaves it, dangles or loops. The archive stores in-tree
	// links as the files they lead to (see ArchiveStaticResources); such a
	// link has no faithful copy a restore could write.
	ErrUnsafeResource = errors.New("static pod resource link leaves its directory")

	// ErrMissingFile: a backup directory lacks the snapshot or the static
	// resources archive, or (backup/offsite) an object its manifest lists
	// is not at its destination.
	ErrMissingFile = errors.New("backup file missing")
	// ErrAmbiguous: a backup directory holds several backups and none was
	// chosen.
	ErrAmbiguous = errors.New("several backups in directory")
	// ErrTimestampMismatch: the snapshot and the archive carry different
	// timestamps.
	ErrTimestampMismatch = errors.New("snapshot and archive timestamps differ")
	// ErrCorruptDatabase: the snapshot's bolt database fails its
	// consistency check or cannot be opened.
	ErrCorruptDatabase = errors.New("snapshot database corrupt")
	// ErrBadArchive: the static resources archive cannot be read, or lacks
	// a component directory.
	ErrBadArchive = errors.New("static resources archive invalid")
	// ErrBadManifest: backup.json, or an off-site backup's manifest
	// (backup/offsite), cannot be parsed, is of an unknown format, or
	// fails its checksum.
	ErrBadManifest = errors.New("backup manifest invalid")
	// ErrInvalidBackup is matched by every *VerifyError, whatever its
	// problems: the backup directory is not a whole, usable backup.
	ErrInvalidBackup = errors.New("backup is not whole")
	// ErrUnsafeEntry: the static resources archive holds an entry that
	// would write outside its target (an absolute name, a ".." element, a
	// link escaping the tree, a device). Verify reports it; a restore
	// wraps it and writes nothing of that archive. It is the value the
	// archive reader (an internal package) wraps, exported here because
	// backup's API returns it.
	ErrUnsafeEntry = safetar.ErrUnsafeEntry
)

// SnapshotError is returned by [Snapshot] and [VerifySnapshot]. Op is the
// phase that failed ("status", "open", "receive", "write", "verify",
// "commit"), Member the etcd member (name or endpoint) streamed from, when
// known. Err wraps a sentinel such as [ErrHashMismatch] or the cause
// (context.Canceled, a gRPC error, a syscall error).
type SnapshotError struct {
	Op     string
	Member string
	Path   string
	Err    error
}

func (e *SnapshotError) Error() string {
	var b strings.Builder
	b.WriteString("etcd snapshot")
	if e.Path != "" {
		fmt.Fprintf(&b, " %s", e.Path)
	}
	if e.Member != "" {
		fmt.Fprintf(&b, " from %s", e.Member)
	}
	fmt.Fprintf(&b, ": %s: %v", e.Op, e.Err)
	return b.String()
}

func (e *SnapshotError) Unwrap() error { return e.Err }

// PrecheckError is a failed pre-check of [TakePlan]. Check names it
// ("operators", "certificate-rotation", "free-space", "cluster-info"),
// Reason says what was found and Fix what to do about it. Err wraps one of
// [ErrOperatorProgressing], [ErrOperatorStatusUnknown], [ErrTooEarly],
// [ErrInsufficientSpace], [ErrClusterInfo].
type PrecheckError struct {
	Check  string
	Reason string
	Fix    string
	Err    error
}

func (e *PrecheckError) Error() string {
	msg := fmt.Sprintf("backup pre-check %s failed: %s", e.Check, e.Reason)
	if e.Fix != "" {
		msg += "; fix: " + e.Fix
	}
	return msg
}

func (e *PrecheckError) Unwrap() error { return e.Err }

// Problem is one thing wrong with a backup directory. File is the base
// name of the file concerned ("" for the directory).
type Problem struct {
	File string
	Err  error
}

func (p Problem) String() string {
	if p.File == "" {
		return p.Err.Error()
	}
	return p.File + ": " + p.Err.Error()
}

// VerifyError lists everything [Verify] found wrong with a backup. It
// unwraps to every problem's error, so errors.Is(err, ErrHashMismatch)
// holds when any file failed its hash check.
type VerifyError struct {
	Dir      string
	Problems []Problem
}

func (e *VerifyError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("backup %s is not whole: %s", e.Dir, strings.Join(parts, "; "))
}

// Is matches ErrInvalidBackup.
func (e *VerifyError) Is(target error) bool { return target == ErrInvalidBackup }

func (e *VerifyError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p.Err
	}
	return errs
}
