package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/boltcheck"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// SnapshotInfo describes a snapshot file checked by VerifySnapshot.
type SnapshotInfo struct {
	Path string
	Size int64
	// SHA256 of the whole file; DBSHA256 of the database part (all but
	// the trailer; the same as SHA256 for a file without one).
	SHA256, DBSHA256 string
	// HasHash: the file ends with etcd's sha256 trailer (and it matched,
	// when VerifySnapshot returned no error).
	HasHash bool
	// Revision is the newest revision in the database's key bucket.
	Revision int64
	// StorageVersion is the etcd storage version recorded in the database
	// (etcd >= 3.6), e.g. "3.7.0"; "" for older snapshots.
	StorageVersion string
	// ConsistentIndex is the raft index of the last entry applied to the
	// database (etcd's meta bucket "consistent_index"); 0 when the
	// database records none or was not checked (SkipDBCheck).
	ConsistentIndex uint64
}

// VerifySnapshotOptions configure VerifySnapshot. The zero value checks
// hash and database.
type VerifySnapshotOptions struct {
	// SkipDBCheck skips the database check, a second read of the tree
	// pages; Revision and StorageVersion then stay unknown (0, "").
	SkipDBCheck bool
	// AllowNoHash accepts a file without etcd's sha256 trailer (a db file
	// copied from a data directory); a file with a trailer is always
	// checked against it.
	AllowNoHash bool
}

// minDBSize is the smallest file that can be a bolt database: two meta
// pages, a freelist and a root page of at least 512 bytes each.
const minDBSize = 4 * 512

// VerifySnapshot checks a local snapshot file as etcd's restore would: the
// trailing sha256 matches the database (one sequential read), and the bolt
// database passes lifeboat's structure check (meta pages, every tree page
// of every bucket, the freelist, and the etcd schema rules etcd's restore
// relies on; see internal/boltcheck). It reads the revision and storage
// version from the database. Errors are *SnapshotError wrapping
// ErrHashMismatch, ErrNoHash (unless AllowNoHash), ErrTruncated or
// ErrCorruptDatabase; no input makes it panic. The read stops when ctx is
// cancelled.
//
// Memory: the hash pass uses one 128 KiB buffer; the database check reads
// page by page through ordinary reads (no memory map) within a 64 MiB
// budget, whatever the file's size.
func VerifySnapshot(ctx context.Context, path string, opts VerifySnapshotOptions) (*SnapshotInfo, error) {
	if path == "" {
		return nil, opterr.Nil("backup.VerifySnapshot path")
	}
	fail := func(op string, err error) error { return &SnapshotError{Op: op, Path: path, Err: err} }
	if err := ctx.Err(); err != nil {
		return nil, fail("open", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fail("open", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fail("open", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fail("open", fmt.Errorf("%w: not a regular file", ErrCorruptDatabase))
	}
	h := NewSnapshotHasher()
	if err := copyCtx(ctx, h, f); err != nil {
		return nil, fail("read", err)
	}
	info, herr := h.Sum(opts.AllowNoHash)
	info.Path = path
	return info, finishSnapshot(ctx, info, herr, path, opts, fail)
}

// verifySnapshotOn is VerifySnapshot for a file on h. A file local to this
// process (h.LocalPath) is checked in place. Otherwise the file is read
// once through h.Open, hashed as it streams and, unless SkipDBCheck, spooled
// into a private temporary file of this machine for the database check
// (bolt needs random access), which is removed before it returns.
func verifySnapshotOn(ctx context.Context, h host.Host, p string, opts VerifySnapshotOptions) (*SnapshotInfo, error) {
	if lp, ok := h.LocalPath(p); ok {
		info, err := VerifySnapshot(ctx, lp, opts)
		if info != nil {
			info.Path = p
		}
		var se *SnapshotError
		if errors.As(err, &se) {
			se.Path = h.Name() + ":" + p
		}
		return info, err
	}
	where := h.Name() + ":" + p
	fail := func(op string, err error) error { return &SnapshotError{Op: op, Path: where, Err: err} }
	fi, err := h.Stat(ctx, p)
	if err != nil {
		return nil, fail("open", err)
	}
	if !fi.Mode.IsRegular() {
		return nil, fail("open", fmt.Errorf("%w: not a regular file", ErrCorruptDatabase))
	}
	rc, err := h.Open(ctx, p)
	if err != nil {
		return nil, fail("open", err)
	}
	defer rc.Close()
	hs := NewSnapshotHasher()
	var w io.Writer = hs
	spool := ""
	if !opts.SkipDBCheck {
		tmp, err := os.CreateTemp("", "lifeboat-verify-"+path.Base(p)+"-")
		if err != nil {
			return nil, fail("spool", err)
		}
		spool = tmp.Name()
		defer os.Remove(spool)
		defer tmp.Close()
		w = io.MultiWriter(hs, tmp)
	}
	if err := copyCtx(ctx, w, rc); err != nil {
		return nil, fail("read", err)
	}
	info, herr := hs.Sum(opts.AllowNoHash)
	info.Path = p
	if info.Size != fi.Size {
		return info, fail("read", fmt.Errorf("%w: read %d of %d bytes", ErrTruncated, info.Size, fi.Size))
	}
	if spool == "" {
		opts.SkipDBCheck = true
	}
	return info, finishSnapshot(ctx, info, herr, spool, opts, fail)
}

// finishSnapshot orders the findings: a broken hash first, then the
// database (a file without a trailer is still checked, then reported).
func finishSnapshot(ctx context.Context, info *SnapshotInfo, herr error, dbPath string, opts VerifySnapshotOptions, fail func(string, error) error) error {
	if herr != nil && !errors.Is(herr, ErrNoHash) {
		return fail("verify", herr)
	}
	if dbPath != "" {
		if err := checkDatabase(ctx, dbPath, info, opts.SkipDBCheck); err != nil {
			return fail("check", err)
		}
	}
	if herr != nil {
		return fail("verify", herr)
	}
	return nil
}

// SnapshotHasher hashes a snapshot as it streams by (an io.Writer that
// never fails), so a caller copying a snapshot checks its trailer in the
// same pass. Sum gives the result. The zero value is an empty hasher, as
// NewSnapshotHasher returns.
type SnapshotHasher struct{ t *trailerHasher }

func (s *SnapshotHasher) hasher() *trailerHasher {
	if s.t == nil {
		s.t = newTrailerHasher()
	}
	return s.t
}

// NewSnapshotHasher returns an empty hasher.
func NewSnapshotHasher() *SnapshotHasher { return &SnapshotHasher{t: newTrailerHasher()} }

// Write hashes p.
func (s *SnapshotHasher) Write(p []byte) (int, error) { return s.hasher().Write(p) }

// Sum returns size and digests of what was written and checks it is a
// whole snapshot: an error wrapping ErrTruncated (shorter than any
// database, or a size that is neither a database nor a database plus its
// trailer), ErrHashMismatch, or ErrNoHash unless allowNoHash. Revision
// and storage version are left to the database check.
func (s *SnapshotHasher) Sum(allowNoHash bool) (*SnapshotInfo, error) {
	tr, err := s.hasher().Finish()
	info := &SnapshotInfo{Size: tr.Size, SHA256: tr.FileSHA, DBSHA256: tr.DBSHA, HasHash: tr.HasHash}
	db := tr.Size
	if tr.HasHash {
		db -= trailerSize
	}
	switch {
	case db > 0 && db < minDBSize && (tr.HasHash || db%512 == 0):
		return info, fmt.Errorf("%w: %d bytes is smaller than any database", ErrTruncated, tr.Size)
	case errors.Is(err, ErrNoHash) && allowNoHash:
		return info, nil
	}
	return info, err
}

// copyCtx copies r to w in 128 KiB reads, stopping when ctx is cancelled.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) error {
	buf := make([]byte, 128<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// checkDatabase is the one place the snapshot's database is checked: it
// opens the local file path read-only, reads revision and storage version
// into info, and (unless skipCheck) runs the consistency check. Errors
// wrap ErrCorruptDatabase. A checker that cannot panic on any input
// replaces the body here and nowhere else.
func checkDatabase(ctx context.Context, path string, info *SnapshotInfo, skipCheck bool) error {
	return checkBolt(ctx, path, info, skipCheck)
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
	if rep.HasConsistentIndex {
		info.ConsistentIndex = rep.ConsistentIndex
	}
	return nil
}

// CheckSnapshotDatabase runs VerifySnapshot's database check alone on a
// local snapshot file whose size and trailer are already known (info.Size,
// info.HasHash), and fills in Revision, StorageVersion and
// ConsistentIndex. It reads the tree pages, not the whole file, and never
// panics; a damaged database is an error wrapping ErrCorruptDatabase. It
// lets a caller that checks the sha256 trailer elsewhere (etcdutl's
// restore checks it while it copies) still keep corrupt pages away from
// code that asserts on them. An empty path or a nil info is a
// *lifeboat.OptionsError; a cancelled ctx stops it before the file is opened.
func CheckSnapshotDatabase(ctx context.Context, path string, info *SnapshotInfo) error {
	switch {
	case path == "":
		return opterr.Nil("backup.CheckSnapshotDatabase path")
	case info == nil:
		return opterr.Nil("backup.CheckSnapshotDatabase info")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("checking snapshot database %s: %w", path, err)
	}
	return checkDatabase(ctx, path, info, false)
}
