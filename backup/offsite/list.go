package offsite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
)

// Listed is one backup found at a destination, from its manifest alone
// (no key needed).
type Listed struct {
	// ID names the backup (Fetch's argument): its files' stamp.
	ID string
	// TakenAt is when the backup was taken, UploadedAt when its upload
	// finished (zero when the manifest is unreadable).
	TakenAt, UploadedAt time.Time
	// Size is the plaintext size of its files, StoredSize what the
	// destination holds (without the manifest).
	Size, StoredSize int64
	// Verified: every byte passed verification at upload.
	Verified bool
	// Manifest is the parsed manifest; nil when Err is set.
	Manifest *Manifest
	// Err is why the manifest could not be used (wrapping backup.ErrBadManifest
	// or a storage error); such a backup is listed, not trusted.
	Err error
}

// ListOptions configure List. The zero value lists everything.
type ListOptions struct{}

// List lists the backups at a destination: every <prefix>/<id>/ holding
// a manifest, oldest first (by TakenAt, then ID). Objects of an upload
// that never finished (no manifest) and other files are not listed, so
// what retention deletes is only ever lifeboat's own backups. A manifest
// that fails its checks is listed with Err set. The error is for the
// listing itself (lifeboat.ErrInvalidOptions, storage errors).
func List(ctx context.Context, dest Destination, _ ListOptions) ([]Listed, error) {
	if err := dest.validate("offsite.Destination"); err != nil {
		return nil, err
	}
	bucket, closeFn, err := dest.open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	var out []Listed
	it := bucket.List(&blob.ListOptions{Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("offsite: listing %s: %w", dest.String(), err)
		}
		id := strings.TrimSuffix(obj.Key, "/")
		if !obj.IsDir || !idRE.MatchString(id) {
			continue
		}
		m, err := readManifest(ctx, bucket, id)
		if errors.Is(err, retention.ErrNotFound) {
			continue
		}
		l := Listed{ID: id, Manifest: m, Err: err}
		if m != nil {
			l.TakenAt, l.UploadedAt, l.Verified = m.TakenAt, m.UploadedAt, m.Verified
			l.Size, l.StoredSize = m.Size()
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listed) int {
		if c := a.TakenAt.Compare(b.TakenAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// readManifest reads and checks <id>/lifeboat-offsite.json. A missing
// one is retention.ErrNotFound; errors are *ObjectError.
func readManifest(ctx context.Context, bucket *blob.Bucket, id string) (*Manifest, error) {
	key := manifestKey(id)
	r, err := bucket.NewReader(ctx, key, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, &ObjectError{Op: "open", Key: key, Err: fmt.Errorf("%w: %w", retention.ErrNotFound, err)}
	}
	if err != nil {
		return nil, &ObjectError{Op: "open", Key: key, Err: err}
	}
	defer r.Close()
	body, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return nil, &ObjectError{Op: "download", Key: key, Err: err}
	}
	if len(body) > maxManifestSize {
		return nil, &ObjectError{Op: "verify", Key: key, Err: fmt.Errorf("%w: more than %d bytes", backup.ErrBadManifest, maxManifestSize)}
	}
	m, err := parseManifest(body)
	if err != nil {
		return nil, &ObjectError{Op: "verify", Key: key, Err: err}
	}
	if m.ID != id {
		return nil, &ObjectError{Op: "verify", Key: key, Err: fmt.Errorf("%w: manifest of %s stored under %s", backup.ErrBadManifest, m.ID, id)}
	}
	return m, nil
}
