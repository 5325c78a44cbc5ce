package offsite

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/lifeboat-dev/lifeboat/backup/retention"
)

// RetentionStore is a retention.Store over a destination, for
// retention.Apply: it lists lifeboat's backups there through their
// manifests (List), so objects of other tools, uploads that never
// finished and other files are never candidates, and deletes a backup
// manifest first, so that a Delete that fails half-way leaves no backup a
// reader or a later List would take for whole, then every object under
// the backup's "<id>/" in Destination and, for the objects the manifest
// places there, in Resources.
type RetentionStore struct {
	// Destination holds the manifests and the snapshots.
	Destination Destination
	// Resources is where the static pod resources went when they were
	// uploaded to another destination (UploadOptions.Resources); nil when
	// they are beside the snapshots.
	Resources *Destination
}

var _ retention.Store = (*RetentionStore)(nil)

// List implements retention.Store: ID is the backup's ID, Taken its
// manifest's TakenAt, Verified that the manifest was read and checked and
// says every byte was verified at upload. A backup whose manifest fails
// its checks is listed unverified (retention.Select keeps or deletes it as
// its options say).
func (s *RetentionStore) List(ctx context.Context) ([]retention.Backup, error) {
	listed, err := List(ctx, s.Destination, ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]retention.Backup, 0, len(listed))
	for _, l := range listed {
		out = append(out, retention.Backup{ID: l.ID, Taken: l.TakenAt, Verified: l.Err == nil && l.Verified})
	}
	return out, nil
}

// Delete implements retention.Store. An id that is not a backup stamp
// returns an error wrapping retention.ErrNotBackup before any I/O, a
// backup with neither a manifest nor objects one wrapping
// retention.ErrNotFound; one whose
// manifest is gone but whose objects remain (a Delete that failed
// half-way) has them removed.
func (s *RetentionStore) Delete(ctx context.Context, id string) error {
	if !idRE.MatchString(id) {
		return fmt.Errorf("offsite: delete %q: %w: not a backup stamp", id, retention.ErrNotBackup)
	}
	if err := s.Destination.validate("offsite.RetentionStore.Destination"); err != nil {
		return err
	}
	bucket, closeFn, err := s.Destination.open(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	m, merr := readManifest(ctx, bucket, id)
	manifestGone := errors.Is(merr, retention.ErrNotFound)
	if !manifestGone {
		// Damaged or not, the manifest goes first.
		if err := bucket.Delete(ctx, manifestKey(id)); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return &ObjectError{Op: "delete", Key: manifestKey(id), Err: err}
		}
	}
	n, err := deletePrefix(ctx, bucket, id+"/")
	if err != nil {
		return err
	}
	if s.Resources.set() && (m == nil || m.objectIn(DestResources)) {
		if err := s.Resources.validate("offsite.RetentionStore.Resources"); err != nil {
			return err
		}
		rb, rclose, err := s.Resources.open(ctx)
		if err != nil {
			return err
		}
		defer rclose()
		rn, err := deletePrefix(ctx, rb, id+"/")
		if err != nil {
			return err
		}
		n += rn
	}
	if manifestGone && n == 0 {
		return fmt.Errorf("offsite: delete %s: %w", id, retention.ErrNotFound)
	}
	return nil
}

// objectIn reports whether any object of m is stored in dest.
func (m *Manifest) objectIn(dest string) bool {
	for _, o := range m.Objects {
		if o.Destination == dest {
			return true
		}
	}
	return false
}

// deletePrefix deletes every object under prefix and returns how many.
func deletePrefix(ctx context.Context, bucket *blob.Bucket, prefix string) (int, error) {
	n := 0
	it := bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, &ObjectError{Op: "list", Key: prefix, Err: err}
		}
		if err := bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return n, &ObjectError{Op: "delete", Key: obj.Key, Err: err}
		}
		n++
	}
}
