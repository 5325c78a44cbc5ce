package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
)

// Object metadata lifeboat sets on every object it stores; Fetch refuses
// an object whose metadata names another backup or file (ErrMismatch).
const (
	metaID     = "lifeboat-backup-id"
	metaName   = "lifeboat-file"
	metaSHA256 = "lifeboat-sha256"
)

// Upload copies the verified local backup in dir (the cluster-backup.sh
// layout, as backup.TakePlan writes it) to the destination, off the cluster,
// as the runbook advises:
//
//  1. backup.Verify checks the local backup (refused with its
//     *backup.VerifyError, nothing uploaded);
//  2. each file streams once, from disk, through zstd (unless
//     ZstdLevel is -1) and age encryption to its recipients into
//     <prefix>/<id>/<name>.zst.age, a multipart upload for large files.
//     The same pass hashes the plaintext (which must equal the verified
//     sha256 and size: ErrSourceChanged otherwise), checks the snapshot's
//     etcd sha256 trailer, and hashes the stored bytes. The stored object's
//     size is read back from the storage and compared (with ReadBack, its
//     whole content is re-read and its sha256 compared).
//  3. only then <prefix>/<id>/lifeboat-offsite.json, the Manifest, is
//     written (at the resources destination first, when there is one):
//     a reader that finds no manifest finds no backup.
//
// Why a verified pass rather than a read-back by default: every byte the
// storage client was handed was hashed and checked against the verified
// local files in the same pass, the storage's transport checksums cover
// the transfer, and the stored size is confirmed; reading everything back
// doubles the traffic and is what ReadBack (and a later scrub) is for.
//
// A transient storage failure restarts the object from its first byte
// after a backoff (RetryOptions); when Upload fails, the objects it wrote
// are deleted (best effort) and no manifest exists. An ID whose manifest
// already records the same files is returned as is (uploading twice is
// harmless); one recording other files is ErrExists.
//
// Errors: lifeboat.ErrInvalidOptions, the local *backup.VerifyError,
// ErrSourceChanged, ErrExists, and *ObjectError wrapping the storage's
// error (gcerrors codes) or an integrity sentinel.
func Upload(ctx context.Context, dir string, opts UploadOptions) (*Manifest, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	snapRcp, resRcp, _ := opts.recipients("offsite.UploadOptions")
	log := logger(opts.Logger)

	b, err := backup.Verify(ctx, dir, backup.VerifyOptions{Timestamp: opts.Timestamp, SkipDBCheck: opts.SkipDBCheck, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("offsite: upload of %s: %w", dir, err)
	}
	id := idOf(b)

	primary, resBucket, resDest, closeBuckets, err := openBuckets(ctx, &opts.Destination, opts.Resources)
	if err != nil {
		return nil, err
	}
	defer closeBuckets()

	if m, err := readManifest(ctx, primary, id); err == nil {
		if sameFiles(m, b) {
			log.Info("backup already uploaded", "id", id, "destination", opts.Destination.String())
			return m, nil
		}
		return nil, &ObjectError{Op: "upload", Key: manifestKey(id), Err: fmt.Errorf("%w: a manifest for %s records other files", ErrExists, id)}
	} else if !errors.Is(err, retention.ErrNotFound) {
		return nil, err
	}

	level := opts.ZstdLevel
	if level == 0 {
		level = DefaultZstdLevel
	}
	m := &Manifest{
		Format:          manifestFormat,
		Kind:            manifestKind,
		ID:              id,
		TakenAt:         takenAt(b),
		ClusterVersion:  b.ClusterVersion,
		EtcdVersion:     b.EtcdVersion,
		Revision:        b.Revision,
		PossiblyDirty:   b.PossiblyDirty,
		LifeboatVersion: backup.Version(),
		Local:           b.Manifest,
		ReadBack:        opts.ReadBack,
	}
	if b.Manifest != nil {
		m.EtcdServerVersion = b.Manifest.EtcdServerVersion
		m.EncryptionEnabled = b.Manifest.EncryptionEnabled
	}

	u := &uploader{opts: &opts, log: log, id: id, level: level}
	type job struct {
		role, dest string
		bucket     *blob.Bucket
		file       backup.BackupFile
		rcp        *parsedRecipients
	}
	jobs := []job{
		{RoleResources, resDest, resBucket, b.Resources, resRcp},
		{RoleSnapshot, destPrimary, primary, b.Snapshot, snapRcp},
	}
	var written []func()
	cleanup := func() {
		for _, del := range written {
			del()
		}
	}
	for _, j := range jobs {
		key := objectKey(id, j.file.Name, u.codec())
		bucket := j.bucket
		written = append(written, func() {
			// A fresh context: the upload's may be why we clean up.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := bucket.Delete(dctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
				log.Warn("removing an object of a failed upload", "key", key, "err", err)
			}
		})
		obj, err := retry(ctx, opts.Retry, func(err error, wait time.Duration) {
			log.Warn("upload failed, retrying", "key", key, "in", wait, "err", err)
		}, func(attempt int) (Object, error) {
			return u.put(ctx, bucket, key, j.file, j.rcp, attempt)
		})
		if err != nil {
			cleanup()
			return nil, err
		}
		obj.Role, obj.Destination = j.role, j.dest
		m.Objects = append(m.Objects, obj)
	}

	m.Verified = true
	m.UploadedAt = now(opts.Now).UTC()
	if err := publish(ctx, opts.Retry, log, primary, resBucket, m); err != nil {
		cleanup()
		return nil, err
	}
	size, stored := m.Size()
	log.Info("backup uploaded", "id", id, "destination", opts.Destination.String(), "bytes", size, "stored", stored)
	return m, nil
}

// uploader streams files to objects.
type uploader struct {
	opts  *UploadOptions
	log   *slog.Logger
	id    string
	level int
}

func (u *uploader) codec() string {
	if u.level == NoCompression {
		return codecAge
	}
	return CodecZstdAge
}

// put uploads one file as key, in one pass: file → hashes → zstd → age →
// hash → bucket writer (an objectWriter). An error aborts the writer, so
// the storage never commits a partial object; the plaintext must match the
// verified file before the object is committed.
func (u *uploader) put(ctx context.Context, bucket *blob.Bucket, key string, file backup.BackupFile, rcp *parsedRecipients, attempt int) (Object, error) {
	fail := func(op string, err error) (Object, error) {
		var oe *ObjectError
		if errors.As(err, &oe) {
			return Object{}, err
		}
		return Object{}, &ObjectError{Op: op, Key: key, Err: err}
	}
	f, err := os.Open(file.Path)
	if err != nil {
		return fail("open", err)
	}
	defer f.Close()
	ow, err := u.newObjectWriter(ctx, bucket, key, file.Name, rcp, writerConfig{
		partSize: u.opts.PartSize,
		metadata: map[string]string{metaID: u.id, metaName: file.Name, metaSHA256: file.SHA256},
	})
	if err != nil {
		return Object{}, err
	}
	defer ow.abort()
	var w io.Writer = ow
	var snap *backup.SnapshotHasher
	if backupKind(file.Name) == RoleSnapshot {
		snap = backup.NewSnapshotHasher()
		w = io.MultiWriter(ow, snap)
	}
	rep := newByteReport(ctx, "uploading "+file.Name, file.Size, attempt)
	n, err := copyProgress(ctx, w, f, rep.update)
	if err != nil {
		return fail("upload", err)
	}
	if sum := hex.EncodeToString(ow.plain.Sum(nil)); n != file.Size || sum != file.SHA256 {
		return fail("verify", fmt.Errorf("%w: %s read as %d bytes sha256 %s, verified as %d bytes sha256 %s",
			ErrSourceChanged, file.Name, n, sum, file.Size, file.SHA256))
	}
	if snap != nil {
		if _, err := snap.Sum(false); err != nil {
			return fail("verify", fmt.Errorf("%w: %w", ErrSourceChanged, err))
		}
	}
	rep.finish(n)
	var readBack func(Object) error
	if u.opts.ReadBack {
		readBack = func(o Object) error { return u.readBack(ctx, bucket, o, attempt) }
	}
	obj, err := ow.commit(ctx, bucket, readBack)
	if err != nil {
		return Object{}, err
	}
	u.log.Info("object stored", "key", key, "bytes", obj.Size, "stored", obj.StoredSize, "attempt", attempt)
	return obj, nil
}

// readBack re-reads a stored object and compares its sha256.
func (u *uploader) readBack(ctx context.Context, bucket *blob.Bucket, obj Object, attempt int) error {
	r, err := bucket.NewReader(ctx, obj.Key, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	sum := sha256.New()
	rep := newByteReport(ctx, "reading back "+obj.Name, obj.StoredSize, attempt)
	n, err := copyProgress(ctx, sum, r, rep.update)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); n != obj.StoredSize || got != obj.StoredSHA256 {
		return storedMismatch("read back %d bytes sha256 %s, wrote %d bytes sha256 %s", n, got, obj.StoredSize, obj.StoredSHA256)
	}
	rep.finish(n)
	return nil
}

// sameFiles reports whether m records b's two files.
func sameFiles(m *Manifest, b *backup.Backup) bool {
	s, r := m.Object(RoleSnapshot), m.Object(RoleResources)
	return s != nil && r != nil && s.Name == b.Snapshot.Name && s.SHA256 == b.Snapshot.SHA256 &&
		r.Name == b.Resources.Name && r.SHA256 == b.Resources.SHA256
}

// takenAt is when b was taken.
func takenAt(b *backup.Backup) time.Time {
	if b.Manifest != nil && !b.Manifest.CreatedAt.IsZero() {
		return b.Manifest.CreatedAt.UTC()
	}
	t, err := time.ParseInLocation(backup.TimestampLayout, b.Timestamp, time.Local)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}
