package offsite

import (
	"context"
	"log/slog"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// objectCleanup deletes the objects of a failed upload, best effort.
type objectCleanup struct {
	ctx  context.Context
	log  *slog.Logger
	dels []func()
}

// add registers key in bucket for deletion should the upload fail.
func (c *objectCleanup) add(bucket *blob.Bucket, key string) {
	c.dels = append(c.dels, func() {
		// A fresh context: the upload's may be why we clean up.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), time.Minute)
		defer cancel()
		if err := bucket.Delete(dctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			c.log.Warn("removing an object of a failed upload", "key", key, "err", err)
		}
	})
}

func (c *objectCleanup) run() {
	for _, del := range c.dels {
		del()
	}
}

// publish writes m, sealed, as the manifest of its ID at the resources
// bucket first (when it is another one) and then at primary: only then
// is the backup visible. On failure the manifests written are removed.
func publish(ctx context.Context, r RetryOptions, log *slog.Logger, primary, resBucket *blob.Bucket, m *Manifest) error {
	body, err := m.marshal()
	if err != nil {
		return &ObjectError{Op: "upload", Key: manifestKey(m.ID), Err: err}
	}
	targets := []*blob.Bucket{primary}
	if resBucket != primary {
		targets = []*blob.Bucket{resBucket, primary}
	}
	for i, t := range targets {
		_, err := retry(ctx, r, func(err error, wait time.Duration) {
			log.Warn("manifest upload failed, retrying", "id", m.ID, "in", wait, "err", err)
		}, func(int) (struct{}, error) {
			return struct{}{}, t.WriteAll(ctx, manifestKey(m.ID), body, &blob.WriterOptions{ContentType: "application/json"})
		})
		if err != nil {
			// Without the primary manifest nothing is visible; remove a
			// resources manifest already written too.
			for _, t2 := range targets[:i] {
				t2.Delete(context.WithoutCancel(ctx), manifestKey(m.ID))
			}
			return &ObjectError{Op: "upload", Key: manifestKey(m.ID), Err: err}
		}
	}
	return nil
}
