package backup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
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
	// SkipDBCheck skips the bolt consistency check (tx.Check), which reads
	// every page of the database through a memory map.
	SkipDBCheck bool
}

// VerifySnapshot checks a snapshot file as etcd's restore would: the
// trailing sha256 matches the database (one sequential read), and the bolt
// database opens read-only and passes its consistency check. It reads the
// revision and storage version from the database. Errors are
// *SnapshotError wrapping ErrHashMismatch, ErrNoHash, ErrTruncated or
// ErrCorruptDatabase.
//
// Memory: the hash pass uses one 128 KiB buffer. The database check maps the
// file without MAP_POPULATE and walks every page, so the process's
// resident set grows by up to the file size in clean, shared page-cache
// pages that the kernel reclaims under pressure; SkipDBCheck avoids it.
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

// checkBolt opens the database read-only, reads revision and storage
// version, and runs bolt's consistency check.
func checkBolt(ctx context.Context, path string, info *SnapshotInfo, skipCheck bool) (err error) {
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorruptDatabase, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) (err error) {
		defer func() {
			// bolt panics on some corruptions it meets while reading.
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: %v", ErrCorruptDatabase, r)
			}
		}()
		if kb := tx.Bucket([]byte("key")); kb != nil {
			if k, _ := kb.Cursor().Last(); len(k) >= 8 {
				info.Revision = int64(binary.BigEndian.Uint64(k[:8]))
			}
		} else {
			return fmt.Errorf("%w: no \"key\" bucket: not an etcd database", ErrCorruptDatabase)
		}
		if mb := tx.Bucket([]byte("meta")); mb != nil {
			info.StorageVersion = string(mb.Get([]byte("storageVersion")))
		}
		if skipCheck {
			return nil
		}
		var problems []error
		for cerr := range tx.Check() {
			if len(problems) < 10 {
				problems = append(problems, cerr)
			}
			if ctx.Err() != nil {
				// Drain: Check's goroutine must finish before the tx ends.
				continue
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(problems) > 0 {
			return fmt.Errorf("%w: %w", ErrCorruptDatabase, errors.Join(problems...))
		}
		return nil
	})
}
