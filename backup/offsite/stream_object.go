package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"gocloud.dev/blob"
)

// objectWriter is one object being stored from a stream of plaintext:
// Write takes plaintext, hashes and counts it, and passes it through zstd
// (unless the codec is codecAge) and age to the bucket's writer, whose
// stored bytes are hashed and counted too. Nothing is visible under key
// until commit succeeds; abort cancels the storage writer, so the storage
// never commits a partial object.
type objectWriter struct {
	key       string
	obj       Object
	cancel    context.CancelFunc
	bw        *blob.Writer
	aw        io.WriteCloser
	enc       io.WriteCloser
	plain     hash.Hash
	n         int64
	storedSum hash.Hash
	stored    *counter
	hd        *head
	done      bool
}

// writerConfig tunes the storage writer.
type writerConfig struct {
	partSize    int
	concurrency int
	metadata    map[string]string
	// producerHashes: the caller hashes the plaintext itself (the
	// snapshot's trailer check does, in the same pass), so the writer
	// only counts it and Object.SHA256 is left for the caller to set.
	producerHashes bool
}

// newObjectWriter opens key in bucket for a file called name.
func (u *uploader) newObjectWriter(ctx context.Context, bucket *blob.Bucket, key, name string, rcp *parsedRecipients, cfg writerConfig) (*objectWriter, error) {
	o := &objectWriter{key: key, obj: Object{Name: name, Key: key, Codec: u.codec(), Recipients: rcp.desc},
		storedSum: sha256.New(), stored: &counter{}, hd: &head{}}
	if !cfg.producerHashes {
		o.plain = sha256.New()
	}
	if o.obj.Codec == CodecZstdAge {
		o.obj.ZstdLevel = u.level
	}
	wctx, cancel := context.WithCancel(ctx)
	o.cancel = cancel
	bw, err := bucket.NewWriter(wctx, key, &blob.WriterOptions{
		ContentType:    "application/octet-stream",
		BufferSize:     cfg.partSize,
		MaxConcurrency: cfg.concurrency,
		Metadata:       cfg.metadata,
		BeforeWrite:    s3Upload(bucket, cfg.partSize, cfg.concurrency),
	})
	if err != nil {
		cancel()
		return nil, &ObjectError{Op: "upload", Key: key, Err: err}
	}
	o.bw = bw
	aw, err := age.Encrypt(io.MultiWriter(bw, o.storedSum, o.stored, o.hd), rcp.age...)
	if err != nil {
		o.abort()
		return nil, &ObjectError{Op: "upload", Key: key, Err: err}
	}
	o.aw, o.enc = aw, nopCloser{aw}
	if o.obj.Codec == CodecZstdAge {
		zw, err := zstd.NewWriter(aw, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(u.level)),
			// No frame checksum: the plaintext's sha256, checked after
			// decompression, covers what its xxhash64 would (and costs a
			// pass less over the plaintext).
			zstd.WithEncoderCRC(false))
		if err != nil {
			o.abort()
			return nil, &ObjectError{Op: "upload", Key: key, Err: err}
		}
		o.enc = zw
	}
	return o, nil
}

// Write takes plaintext.
func (o *objectWriter) Write(p []byte) (int, error) {
	n, err := o.enc.Write(p)
	if o.plain != nil {
		o.plain.Write(p[:n])
	}
	o.n += int64(n)
	if err != nil {
		return n, &ObjectError{Op: "upload", Key: o.key, Err: err}
	}
	return n, nil
}

// abort cancels the storage writer: no object appears (an earlier object
// under the same key stays as it was). Safe to call after commit.
func (o *objectWriter) abort() {
	if o.done {
		return
	}
	o.done = true
	o.cancel()
	// The zstd encoder writes to bw from its own goroutine: wait for it
	// (its flush fails or is discarded, ctx is cancelled) before bw is
	// closed.
	o.enc.Close()
	o.bw.Close()
}

// commit finishes the object, and checks that the storage holds as many
// bytes as were written (and, with readBack, their sha256). The returned
// Object has the plaintext's size and sha256 as written.
func (o *objectWriter) commit(ctx context.Context, bucket *blob.Bucket, readBack func(Object) error) (Object, error) {
	fail := func(op string, err error) (Object, error) {
		o.abort()
		return o.obj, &ObjectError{Op: op, Key: o.key, Err: err}
	}
	if err := o.enc.Close(); err != nil {
		return fail("upload", err)
	}
	if err := o.aw.Close(); err != nil {
		return fail("upload", err)
	}
	o.done = true
	err := o.bw.Close()
	o.cancel()
	if err != nil {
		return o.obj, &ObjectError{Op: "upload", Key: o.key, Err: err}
	}
	o.obj.Size = o.n
	if o.plain != nil {
		o.obj.SHA256 = hex.EncodeToString(o.plain.Sum(nil))
	}
	o.obj.StoredSize, o.obj.StoredSHA256, o.obj.HeadSHA256 = o.stored.n, hex.EncodeToString(o.storedSum.Sum(nil)), o.hd.sum()
	attrs, err := bucket.Attributes(ctx, o.key)
	if err != nil {
		return o.obj, &ObjectError{Op: "verify", Key: o.key, Err: err}
	}
	if attrs.Size != o.obj.StoredSize {
		return o.obj, &ObjectError{Op: "verify", Key: o.key, Err: storedMismatch("storage holds %d bytes, %d were written", attrs.Size, o.obj.StoredSize)}
	}
	if readBack != nil {
		if err := readBack(o.obj); err != nil {
			return o.obj, &ObjectError{Op: "verify", Key: o.key, Err: err}
		}
	}
	return o.obj, nil
}
