package offsite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// probeSize bounds what altered reads: an age header and the first payload
// chunk (64 KiB and its tag) fit in it.
const probeSize = 1 << 20

// altered says what an object whose first HeadSize bytes are not the
// recorded ones (Object.HeadSHA256) is, reading at most probeSize bytes:
//
//   - an age object that ids open and whose first chunk authenticates is
//     intact but another one (another backup's, or another file's):
//     ErrMismatch;
//   - anything else was damaged: backup.ErrTruncated when it is shorter
//     than the manifest records (size < StoredSize), else
//     backup.ErrHashMismatch. A header none of ids opens counts as damaged:
//     a flipped byte in a recipient stanza reads as another recipient, and
//     an object encrypted to other keys is not the one stored either.
//
// A storage error while reading is returned as it is.
func altered(ctx context.Context, b *blob.Bucket, o *Object, size int64, ids []age.Identity) error {
	damaged := backup.ErrHashMismatch
	if size < o.StoredSize {
		damaged = backup.ErrTruncated
	}
	r, err := b.NewRangeReader(ctx, o.Key, 0, probeSize, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	er := &errReader{r: r}
	plain, err := age.Decrypt(er, ids...)
	if er.err != nil {
		return er.err
	}
	if err != nil {
		var nim *age.NoIdentityMatchError
		if errors.As(err, &nim) {
			return fmt.Errorf("%w: its first %d bytes are not the stored object's and none of the %d identities opens it (an altered header, or an object encrypted to other keys)", damaged, HeadSize, len(ids))
		}
		return fmt.Errorf("%w: its first %d bytes are not the stored object's: age header: %v", damaged, HeadSize, err)
	}
	if _, err := io.ReadFull(plain, make([]byte, 1)); err != nil && err != io.EOF {
		if er.err != nil {
			return er.err
		}
		return fmt.Errorf("%w: its first %d bytes are not the stored object's: first chunk: %v", damaged, HeadSize, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: an intact age object, but its first %d bytes are not the stored object's", ErrMismatch, HeadSize)
}

// errReader remembers the first error of r other than io.EOF.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// headerWithin reports whether the age header ends within b, the first
// bytes of an object: its MAC line ("--- " and 43 base64 characters) is
// complete there.
func headerWithin(b []byte) bool {
	i := bytes.Index(b, []byte("\n--- "))
	return i >= 0 && bytes.IndexByte(b[i+1:], '\n') >= 0
}

// checkStoredSum reads the whole object and returns an error wrapping
// backup.ErrHashMismatch when its size or sha256 is not the manifest's
// (backup.ErrTruncated when shorter), nil when they match, or the storage
// error.
func checkStoredSum(ctx context.Context, b *blob.Bucket, o *Object) error {
	r, err := b.NewReader(ctx, o.Key, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	sum := sha256.New()
	n, err := copyProgress(ctx, sum, r, func(int64) {})
	if err != nil {
		return err
	}
	got := hex.EncodeToString(sum.Sum(nil))
	switch {
	case n < o.StoredSize:
		return fmt.Errorf("%w: %d of %d bytes", backup.ErrTruncated, n, o.StoredSize)
	case n != o.StoredSize || got != o.StoredSHA256:
		return fmt.Errorf("%w: no identity opens it and its stored sha256 %s is not the manifest's %s: its header was damaged", backup.ErrHashMismatch, got, o.StoredSHA256)
	}
	return nil
}
