package restore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SnapshotInfo describes a checked snapshot file.
type SnapshotInfo struct {
	Path string
	Size int64 // of the file, trailer included
	// HasHash: the file ends with etcd's sha256 of the database.
	HasHash bool
	// SHA256 is the hex digest of the database (without the trailer).
	SHA256 string
	// Revision is the latest revision stored in the snapshot.
	Revision int64
	// StorageVersion is the storage version recorded by etcd 3.6 and later
	// ("3.6.0"); "" for older snapshots.
	StorageVersion string
}

// VerifySnapshot reads the snapshot at path once, checks the sha256 trailer
// etcd appends to a snapshot against the data, then reads the latest
// revision and the storage version from the database. Errors are
// *SnapshotError wrapping ErrTruncated, ErrHashMismatch, ErrNoHash (only
// when allowNoHash is false) or ErrCorruptSnapshot. The read stops when ctx
// is cancelled.
func VerifySnapshot(ctx context.Context, path string, allowNoHash bool) (SnapshotInfo, error) {
	info := SnapshotInfo{Path: path}
	fail := func(err error) (SnapshotInfo, error) { return info, &SnapshotError{Path: path, Err: err} }
	f, err := os.Open(path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	info.Size = fi.Size()
	if !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("%w: not a regular file", ErrCorruptSnapshot))
	}
	// A bolt database is a whole number of pages (multiples of 512 bytes);
	// etcd appends 32 bytes of sha256.
	if info.HasHash, err = classifySize(info.Size, allowNoHash); err != nil {
		return fail(err)
	}
	sum, err := hashSnapshot(ctx, f, info.Size, info.HasHash)
	if err != nil {
		return fail(err)
	}
	info.SHA256 = sum
	if err := checkSnapshotDB(ctx, path, &info); err != nil {
		return fail(err)
	}
	return info, nil
}

// classifySize tells from a snapshot's size whether it carries etcd's
// sha256 trailer. A bolt database is a whole number of pages (multiples of
// 512 bytes); etcd appends 32 bytes of sha256.
func classifySize(size int64, allowNoHash bool) (hasHash bool, err error) {
	const minDB = 4 * 512
	switch rem := size % 512; {
	case size < minDB:
		return false, fmt.Errorf("%w: %d bytes is smaller than any database", ErrTruncated, size)
	case rem == sha256.Size:
		return true, nil
	case rem == 0:
		if !allowNoHash {
			return false, fmt.Errorf("%w (a copy of a data directory's db needs SkipHashCheck)", ErrNoHash)
		}
		return false, nil
	default:
		return false, fmt.Errorf("%w: size %d is neither a database nor a database plus its sha256", ErrTruncated, size)
	}
}

// hashSnapshot reads a snapshot of size bytes from r, returns the hex
// sha256 of its database part and, when hasHash, checks it against the
// trailer.
func hashSnapshot(ctx context.Context, r io.Reader, size int64, hasHash bool) (string, error) {
	dbSize := size
	if hasHash {
		dbSize -= sha256.Size
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, &ctxReader{ctx: ctx, r: io.LimitReader(r, dbSize)}, make([]byte, 1<<20))
	if err != nil {
		return "", err
	}
	if n != dbSize {
		return "", fmt.Errorf("%w: read %d of %d bytes", ErrTruncated, n, dbSize)
	}
	sum := h.Sum(nil)
	if hasHash {
		trailer := make([]byte, sha256.Size)
		if _, err := io.ReadFull(r, trailer); err != nil {
			return "", fmt.Errorf("%w: reading trailer: %v", ErrTruncated, err)
		}
		if !bytes.Equal(trailer, sum) {
			return "", fmt.Errorf("%w: trailer %x, data %x", ErrHashMismatch, trailer, sum)
		}
	}
	return hex.EncodeToString(sum), nil
}

// VerifySnapshotStream checks a snapshot read from r (size bytes, e.g. a
// file on a remote host) the way VerifySnapshot does, without the database
// checks: the revision and storage version stay unknown.
func VerifySnapshotStream(ctx context.Context, r io.Reader, size int64, allowNoHash bool) (SnapshotInfo, error) {
	info := SnapshotInfo{Size: size}
	var err error
	if info.HasHash, err = classifySize(size, allowNoHash); err != nil {
		return info, err
	}
	info.SHA256, err = hashSnapshot(ctx, r, size, info.HasHash)
	return info, err
}

// readSnapshotMeta opens the database read-only and reads its latest
// revision and storage version.
func readSnapshotMeta(path string, info *SnapshotInfo) (err error) {
	defer func() {
		// bbolt panics on some corruptions; report them as errors.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrCorruptSnapshot, r)
		}
	}()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptSnapshot, err)
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("meta")); b != nil {
			if v := b.Get([]byte("storageVersion")); len(v) > 0 {
				info.StorageVersion = string(v)
			}
		}
		b := tx.Bucket([]byte("key"))
		if b == nil {
			return fmt.Errorf("%w: no key bucket", ErrCorruptSnapshot)
		}
		k, _ := b.Cursor().Last()
		if k == nil {
			return nil // an empty keyspace: revision 0
		}
		if len(k) < 8 {
			return fmt.Errorf("%w: malformed revision key", ErrCorruptSnapshot)
		}
		info.Revision = int64(binary.BigEndian.Uint64(k[:8]))
		return nil
	})
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
