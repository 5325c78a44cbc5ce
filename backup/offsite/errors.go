package offsite

import (
	"errors"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// Sentinels for the refusals only off-site storage has; every error of
// this package that is one of these matches it with errors.Is.
//
// A failure an off-site backup shares with a local one is reported with
// the backup family's sentinel, so one errors.Is serves both (see package
// lifeboat, Errors):
//
//   - backup.ErrHashMismatch: a stored object was altered (its stored
//     size or sha256 is not the manifest's, age's authentication fails,
//     it does not decompress, or the storage holds other bytes than were
//     written);
//   - backup.ErrTruncated: a stored object is shorter than its manifest
//     says;
//   - backup.ErrBadManifest: the off-site manifest is unreadable, of an
//     unknown format, or its checksum does not match its content;
//   - backup.ErrMissingFile: an object the manifest lists is not at its
//     destination;
//   - retention.ErrNotFound: the destination holds no backup with that ID
//     (no manifest: a backup whose upload did not finish is not found);
//   - backup.ErrNoHash and backup's others: the snapshot's etcd trailer,
//     checked again on the plaintext, fails; a fetched backup fails
//     backup.Verify (*backup.VerifyError, backup.ErrInvalidBackup).
var (
	// ErrWrongIdentity: none of the identities given opens the object
	// (it was encrypted to other recipients). The object may be intact:
	// other keys open it.
	ErrWrongIdentity = errors.New("no identity opens the object")
	// ErrMismatch: the object is intact but belongs to another backup or
	// file (its content or metadata differ from what the manifest
	// records), e.g. an object swapped with another backup's. Distinct
	// from backup.ErrHashMismatch (damage): nothing was altered, the
	// right object is elsewhere or was overwritten.
	ErrMismatch = errors.New("stored object belongs to another backup")
	// ErrExists: the target already holds a different backup of that
	// name (a manifest with other checksums, or local files in the way).
	ErrExists = errors.New("backup already exists")
	// ErrSourceChanged: a local file changed between its verification and
	// its upload (its sha256 differs from the verified one).
	ErrSourceChanged = errors.New("local backup changed during upload")
)

// ObjectError is a failure on one object of a destination: Op is "open",
// "upload", "download", "verify", "write", "list" or "delete"; Key the
// object key (never a URL, which may carry parameters). It unwraps to
// its cause: one of the sentinels above or of the backup family's listed
// with them, and the storage error underneath (see gocloud.dev/gcerrors).
// It says where, not what: like *fs.PathError it has no sentinel of its
// own (the root package's error convention), so match the kind with
// errors.Is and the place with errors.As.
type ObjectError struct {
	Op  string
	Key string
	Err error
}

func (e *ObjectError) Error() string {
	return fmt.Sprintf("offsite: %s %s: %v", e.Op, e.Key, e.Err)
}

func (e *ObjectError) Unwrap() error { return e.Err }

// storedMismatch is backup.ErrHashMismatch for bytes the storage holds
// right after an upload (its size, or a read-back): the local source was
// verified, so another attempt may store it whole (transient says so).
func storedMismatch(format string, args ...any) error {
	return &retryable{fmt.Errorf("%w: "+format, append([]any{backup.ErrHashMismatch}, args...)...)}
}

// retryable marks an integrity failure that a new attempt may cure.
type retryable struct{ err error }

func (r *retryable) Error() string { return r.err.Error() }
func (r *retryable) Unwrap() error { return r.err }
