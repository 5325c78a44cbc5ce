package boltcheck

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt: the file is not a consistent bbolt database (or not the
	// etcd database CheckEtcd expects). Every *CorruptError wraps it.
	ErrCorrupt = errors.New("bolt database corrupt")
	// ErrMemoryBudget: checking the file needs more memory than
	// Options.MaxMemory allows (a page span or the page bitmaps are
	// larger). The file may be sound; raise the budget.
	ErrMemoryBudget = errors.New("bolt check exceeds its memory budget")
)

// NoPage is CorruptError.Page when the fault is not in one page (the file
// size, both meta pages).
const NoPage = ^uint64(0)

// CorruptError says where a database is corrupt: Page is the id of the
// page (NoPage for file-level faults), Bucket the bucket path ("key",
// "a/b"; "" for the root bucket or the file), Reason what was wrong.
type CorruptError struct {
	Page   uint64
	Bucket string
	Reason string
}

func (e *CorruptError) Error() string {
	s := ErrCorrupt.Error()
	if e.Page != NoPage {
		s += fmt.Sprintf(": page %d", e.Page)
	}
	if e.Bucket != "" {
		s += fmt.Sprintf(" (bucket %q)", e.Bucket)
	}
	return s + ": " + e.Reason
}

// Is matches ErrCorrupt: the kind of this error (see package lifeboat, Errors).
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corruptf(page uint64, bucket, format string, args ...any) error {
	return &CorruptError{Page: page, Bucket: bucket, Reason: fmt.Sprintf(format, args...)}
}
