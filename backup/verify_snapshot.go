package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lifeboat-dev/lifeboat/internal/boltcheck"
)

// SnapshotInfo describes a snapshot file checked by VerifySnapshot.
type SnapshotInfo struct {
	Path string
	Size int64
	// SHA256 of the whole file; DBSHA256 of the database part.
	SHA256, DBSHA256 string
	// HasHash: the file ends with etcd's sha256 trailer (and it matched,
	// when VerifySnapshot returned no error).
	HasHash bool
	// Revision is the newest revision in the database's key bucket.
	Revision int64
	// StorageVersion is the etcd storage version recorded in the database
	// (etcd >= 3.6), e.g. "3.7.0".
	StorageVersion string
}

// VerifySnapshotOptions configure VerifySnapshot. The zero value checks
// hash and database.
type VerifySnapshotOptions struct {
	// SkipDBCheck skips the database check, a second read of the tree
	// pages; Revision and StorageVersion then stay unknown (0, "").
	SkipDBCheck bool
}

// VerifySnapshot checks a snapshot file as etcd's restore would: the
// trailing sha256 matches the database (one sequential read), and the bolt
// database passes lifeboat's structure check (meta pages, every tree page
// of every bucket, the freelist, and the etcd schema rules etcd's restore
// relies on; see internal/boltcheck). It reads the revision and storage
// version from the database. Errors are *SnapshotError wrapping
// ErrHashMismatch, ErrNoHash, ErrTruncated or ErrCorruptDatabase; no input
// makes it panic.
//
// Memory: the hash pass uses one 128 KiB buffer; the database check reads
// page by page through ordinary reads (no memory map) within a 64 MiB
// budget, whatever the file's size.
func VerifySnapshot(ctx context.Context, path string, opts VerifySnapshotOptions) (*SnapshotInfo, error) {
	fail := func(op string, err error) error { return &SnapshotError{Op: op, Path: path, Err: err} }
	f, err := os.Open(path)
	if err != nil {
		return nil, fail("open", err)
	}
	defer f.Close()
	h := newTrailerHasher()
	buf := make([]byte, 128<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, fail("read", err)
		}
		n, rerr := f.Read(buf)
		h.Write(buf[:n])
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, fail("read", rerr)
		}
	}
	tr, herr := h.Finish()
	info := &SnapshotInfo{Path: path, Size: tr.Size, SHA256: tr.FileSHA, DBSHA256: tr.DBSHA, HasHash: tr.HasHash}
	if herr != nil && !errors.Is(herr, ErrNoHash) {
		return info, fail("verify", herr)
	}
	if err := checkBolt(ctx, path, info, opts.SkipDBCheck); err != nil {
		return info, fail("check", err)
	}
	if herr != nil {
		return info, fail("verify", herr)
	}
	return info, nil
}

// checkBolt checks the database part of the snapshot (the file without
// its trailer) with lifeboat's own bolt structure checker, which reads it
// page by page and cannot panic or fault on any input (bbolt maps the file
// and asserts on damage, in goroutines no recover reaches), and reads the
// revision and storage version from it. With skipCheck the database is
// not read at all and both stay unknown.
func checkBolt(ctx context.Context, path string, info *SnapshotInfo, skipCheck bool) error {
	if skipCheck {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	size := info.Size
	if info.HasHash {
		size -= trailerSize
	}
	rep, err := boltcheck.CheckEtcd(ctx, f, size, boltcheck.Options{})
	if errors.Is(err, boltcheck.ErrCorrupt) {
		return fmt.Errorf("%w: %w", ErrCorruptDatabase, err)
	} else if err != nil {
		return err
	}
	info.Revision, info.StorageVersion = rep.Revision, rep.StorageVersion
	return nil
}
