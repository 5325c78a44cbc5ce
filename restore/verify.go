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
	const minDB = 4 * 512
	switch rem := info.Size % 512; {
	case info.Size < minDB:
		return fail(fmt.Errorf("%w: %d bytes is smaller than any database", ErrTruncated, info.Size))
	case rem == sha256.Size:
		info.HasHash = true
	case rem == 0:
		if !allowNoHash {
			return fail(fmt.Errorf("%w (a copy of a data directory's db needs SkipHashCheck)", ErrNoHash))
		}
	default:
		return fail(fmt.Errorf("%w: size %d is neither a database nor a database plus its sha256", ErrTruncated, info.Size))
	}
	dbSize := info.Size
	if info.HasHash {
		dbSize -= sha256.Size
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, &ctxReader{ctx: ctx, r: io.LimitReader(f, dbSize)}, make([]byte, 1<<20)); err != nil {
		return fail(err)
	}
	sum := h.Sum(nil)
	info.SHA256 = hex.EncodeToString(sum)
	if info.HasHash {
		trailer := make([]byte, sha256.Size)
		if _, err := io.ReadFull(f, trailer); err != nil {
			return fail(fmt.Errorf("%w: reading trailer: %v", ErrTruncated, err))
		}
		if !bytes.Equal(trailer, sum) {
			return fail(fmt.Errorf("%w: trailer %x, data %x", ErrHashMismatch, trailer, sum))
		}
	}
	if err := readSnapshotMeta(path, &info); err != nil {
		return fail(err)
	}
	return info, nil
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
