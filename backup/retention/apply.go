package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// Store is where backups live: the local backup directory (DirStore), or
// any other destination the caller implements it for.
type Store interface {
	// List returns lifeboat's own backups in the store, and only those
	// (a backup is recognised by its manifest; other files and objects
	// are never listed, so they are never deleted). It stops when ctx is
	// cancelled.
	List(ctx context.Context) ([]Backup, error)
	// Delete removes the backup with this ID, all of it or, on error, so
	// that List no longer reports it as verified. A backup already gone
	// returns an error wrapping ErrNotFound; an ID that cannot name one of
	// lifeboat's backups in this store (a path, a hidden name, something
	// without a manifest) one wrapping ErrNotBackup, and nothing is
	// deleted. It stops when ctx is cancelled.
	Delete(ctx context.Context, id string) error
}

// ErrNotFound: the store holds no backup with that ID (a local backup
// directory, an off-site destination: for backup/offsite, no manifest
// under the ID, so a backup whose upload never finished is not found).
// Store.Delete wraps it for a backup already gone, and Apply counts that
// as deleted (deleting is idempotent); offsite.Fetch, Verify and Scrub
// return it for an ID the destination does not hold. A backup that is
// there but lacks one of its files is backup.ErrMissingFile instead.
var ErrNotFound = errors.New("no backup with that ID in the store")

// ApplyOptions configure Apply. The zero value deletes what Select
// chooses under Options' zero value, without logging.
type ApplyOptions struct {
	// Options are Select's (clock, calendar zone, DeleteUnverified).
	Options
	// DryRun lists and selects but deletes nothing: the returned Result
	// is the plan.
	DryRun bool
	// Logger receives one record per decision and deletion; nil discards.
	Logger *slog.Logger
}

// Validate checks the options; Apply calls it, with the policy's, before
// any store call. Every value of today's fields is valid (nil Now, nil
// Location and nil Logger have documented defaults), so it returns nil;
// it is the place for checks of fields to come.
func (o ApplyOptions) Validate() error { return nil }

// Report is what Apply did.
type Report struct {
	// Result is Select's decision on what the store listed.
	*Result
	// Deleted are the IDs deleted (or already gone), oldest first. Empty
	// on a dry run.
	Deleted []string
}

// Apply lists the store's backups, decides with Select, and deletes what
// Select chose, oldest first, one at a time: it never deletes a backup the
// store did not list or Select kept (see Select for the invariants), and a
// backup taken after the listing is not seen, so not deleted. With DryRun
// it stops after Select.
//
// Its progress goes to plan.ReportProgress, one event before and one
// after each deletion ("deleting backup <id> (2 of 5)", "deleted backup
// <id> (2 of 5)"): Progress events of the plan step calling it, or of
// plan.WithReport's report outside a plan.
//
// Errors, each wrapped with the operation: lifeboat.ErrInvalidOptions
// (p.Validate's and opts.Validate's *lifeboat.OptionsError, a nil store)
// before any store call; the store's List error; Select's
// ErrBadListing (nothing is deleted); the first Delete error other than
// ErrNotFound (Apply stops there; the Report says what was deleted
// before); ctx.Err() when cancelled between deletions. The Report is
// never nil.
func Apply(ctx context.Context, store Store, p Policy, opts ApplyOptions) (*Report, error) {
	rep := &Report{Result: &Result{}}
	if err := errors.Join(p.Validate(), opts.Validate()); err != nil {
		return rep, fmt.Errorf("retention: %w", err)
	}
	if store == nil {
		return rep, opterr.Nil("retention.Apply store")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	backups, err := store.List(ctx)
	if err != nil {
		return rep, fmt.Errorf("retention: listing backups: %w", err)
	}
	res, err := Select(backups, p, opts.Options)
	if err != nil {
		return rep, fmt.Errorf("retention: %w", err)
	}
	rep.Result = res
	log.Info("retention", "policy", p.String(), "backups", len(backups), "keep", len(res.Keep),
		"delete", len(res.Delete), "newestVerified", res.NewestVerified, "dryRun", opts.DryRun)
	for _, d := range res.Keep {
		log.Debug("keep", "id", d.Backup.ID, "taken", d.Backup.Taken, "reasons", reasonStrings(d.Reasons))
	}
	for _, d := range res.Delete {
		log.Debug("delete", "id", d.Backup.ID, "taken", d.Backup.Taken, "reason", d.Reasons[0].String(), "dryRun", opts.DryRun)
	}
	if opts.DryRun {
		return rep, nil
	}
	del := slices.Clone(res.Delete)
	slices.Reverse(del) // oldest first: an interrupted run leaves the newest
	for i, d := range del {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("retention: stopped before deleting %s: %w", d.Backup.ID, err)
		}
		id := d.Backup.ID
		plan.ReportProgress(ctx, fmt.Sprintf("deleting backup %s (%d of %d)", id, i+1, len(del)))
		err := store.Delete(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			log.Info("backup already gone", "id", id)
		case err != nil:
			return rep, fmt.Errorf("retention: deleting backup %s: %w", id, err)
		default:
			log.Info("backup deleted", "id", id, "taken", d.Backup.Taken, "reason", d.Reasons[0].String())
		}
		rep.Deleted = append(rep.Deleted, id)
		plan.ReportProgress(ctx, fmt.Sprintf("deleted backup %s (%d of %d)", id, i+1, len(del)))
	}
	return rep, nil
}

func reasonStrings(rs []Reason) []string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return s
}
