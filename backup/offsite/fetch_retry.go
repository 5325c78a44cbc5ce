package offsite

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// fetchObject streams *s into path, starting the object again after a
// transient download failure (an *ObjectError of Op "download" whose
// cause transient accepts), up to opts.Retry's attempts with exponential
// backoff. Any other failure (the object's checks, the local disk,
// ctx) ends it at once. *s is replaced by the reopened stream.
func fetchObject(ctx context.Context, s **fetchStream, path string, m *Manifest, opts FetchOptions, log *slog.Logger) error {
	r := opts.Retry.withDefaults()
	eb := backoff.NewExponentialBackOff()
	eb.InitialInterval, eb.MaxInterval = r.InitialInterval, r.MaxInterval
	for attempt := 1; ; attempt++ {
		err := (*s).copyTo(ctx, path, attempt)
		var oe *ObjectError
		if err == nil || attempt >= r.MaxAttempts || !errors.As(err, &oe) || oe.Op != "download" || !transient(ctx, err) {
			return err
		}
		wait := eb.NextBackOff()
		log.Warn("download failed, starting the object again", "key", (*s).key, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &ObjectError{Op: "write", Key: path, Err: err}
		}
		ns, err := openStream(ctx, (*s).bucket, m, (*s).obj, opts.Identities)
		if err != nil {
			return err
		}
		(*s).close()
		*s = ns
	}
}
