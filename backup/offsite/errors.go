package offsite

import (
	"errors"
	"fmt"
)

// Sentinels for the refusals callers branch on; every error of this
// package that is one of these matches it with errors.Is.
var (
	// ErrWrongIdentity: none of the identities given opens the object
	// (it was encrypted to other recipients).
	ErrWrongIdentity = errors.New("no identity opens the object")
	// ErrCorrupt: the stored object was altered (age's authentication or
	// the stored sha256 failed).
	ErrCorrupt = errors.New("stored object corrupt")
	// ErrTruncated: the stored object is shorter than its manifest says.
	ErrTruncated = errors.New("stored object truncated")
	// ErrMismatch: the object is intact but belongs to another backup or
	// file (its content or metadata differ from what the manifest
	// records), e.g. an object swapped with another backup's.
	ErrMismatch = errors.New("stored object belongs to another backup")
	// ErrBadManifest: the off-site manifest is unreadable, of an unknown
	// format, or its checksum does not match its content.
	ErrBadManifest = errors.New("off-site manifest invalid")
	// ErrNotFound: no backup with that ID at the destination (no
	// manifest: a backup whose upload did not finish is not found).
	ErrNotFound = errors.New("off-site backup not found")
	// ErrExists: the target already holds a different backup of that
	// name (a manifest with other checksums, or local files in the way).
	ErrExists = errors.New("backup already exists")
	// ErrSourceChanged: a local file changed between its verification and
	// its upload (its sha256 differs from the verified one).
	ErrSourceChanged = errors.New("local backup changed during upload")
)

// ObjectError is a failure on one object of a destination: Op is "open",
// "upload", "download", "verify" or "write"; Key the object key (never a
// URL, which may carry parameters). It unwraps to the sentinels above,
// to backup's (backup.ErrHashMismatch, backup.ErrTruncated for a snapshot
// whose etcd trailer fails) and to the storage error (see
// gocloud.dev/gcerrors).
type ObjectError struct {
	Op  string
	Key string
	Err error
}

func (e *ObjectError) Error() string {
	return fmt.Sprintf("offsite: %s %s: %v", e.Op, e.Key, e.Err)
}

func (e *ObjectError) Unwrap() error { return e.Err }
