package offsite

import (
	"context"
	"errors"
	"time"

	"github.com/lifeboat-dev/lifeboat"

	"github.com/cenkalti/backoff/v5"
	"gocloud.dev/gcerrors"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// retry runs op until it succeeds, fails permanently, ctx ends or the
// attempts are spent, waiting an exponential backoff with jitter between
// attempts. op gets the attempt number, from 1.
func retry[T any](ctx context.Context, r RetryOptions, notify func(error, time.Duration), op func(attempt int) (T, error)) (T, error) {
	r = r.withDefaults()
	eb := backoff.NewExponentialBackOff()
	eb.InitialInterval, eb.MaxInterval = r.InitialInterval, r.MaxInterval
	attempt := 0
	v, err := backoff.Retry(ctx, func() (T, error) {
		attempt++
		v, err := op(attempt)
		if err != nil && !transient(ctx, err) {
			return v, backoff.Permanent(err)
		}
		return v, err
	}, backoff.WithBackOff(eb), backoff.WithMaxTries(uint(r.MaxAttempts)), backoff.WithMaxElapsedTime(0), backoff.WithNotify(notify))
	var pe *backoff.PermanentError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return v, err
}

// transient reports whether err may go away on its own: a storage error
// that is not about the request itself (5xx, throttling, a broken
// connection). Cancellation, refusals of the request (permission, missing
// bucket, bad argument) and every integrity failure of the local backup
// are permanent.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	var r *retryable
	if errors.As(err, &r) {
		return true
	}
	for _, perm := range []error{lifeboat.ErrInvalidOptions, ErrSourceChanged, ErrExists, backup.ErrHashMismatch,
		backup.ErrTruncated, backup.ErrNoHash, backup.ErrInvalidBackup} {
		if errors.Is(err, perm) {
			return false
		}
	}
	switch gcerrors.Code(err) {
	case gcerrors.InvalidArgument, gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.FailedPrecondition,
		gcerrors.Unimplemented, gcerrors.AlreadyExists, gcerrors.Canceled:
		return false
	}
	return true
}
