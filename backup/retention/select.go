package retention

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Backup is one backup as a Store lists it.
type Backup struct {
	// ID names the backup in its Store (a directory name, an object
	// prefix). Required and unique.
	ID string
	// Taken is when the backup was taken (the manifest's createdAt). The
	// zero time means unknown: such a backup is always kept and counts
	// for no rule.
	Taken time.Time
	// Verified is true when the backup was checked whole (its manifest
	// read and its files matched it). Only verified backups are kept by
	// the Policy rules; see Select for what happens to the others.
	Verified bool
}

// Rule names why Select kept or deleted a backup.
type Rule string

// Rules of a Decision. The first five are invariants, kept whatever the
// policy; the next seven are Policy rules; the last two are why a backup
// is deleted.
const (
	// KeepNewestVerified: the newest verified backup, never deleted.
	KeepNewestVerified Rule = "newest-verified"
	// KeepNotOlder: taken no earlier than the newest verified backup (it
	// may be in progress or not yet verified).
	KeepNotOlder Rule = "not-older-than-newest-verified"
	// KeepUnverified: not verified, older than the newest verified one,
	// and Options.DeleteUnverified is not set.
	KeepUnverified Rule = "unverified"
	// KeepUnknownTime: Taken is the zero time.
	KeepUnknownTime Rule = "unknown-time"
	// KeepNoPolicy: the Policy is empty; nothing is deleted.
	KeepNoPolicy Rule = "no-policy"

	KeepLast    Rule = "last"
	KeepWithin  Rule = "within"
	KeepHourly  Rule = "hourly"
	KeepDaily   Rule = "daily"
	KeepWeekly  Rule = "weekly"
	KeepMonthly Rule = "monthly"
	KeepYearly  Rule = "yearly"

	// DeleteExpired: verified, but no rule keeps it.
	DeleteExpired Rule = "expired"
	// DeleteUnverified: not verified, older than the newest verified
	// backup, and Options.DeleteUnverified is set.
	DeleteUnverified Rule = "unverified-deleted"
)

// Reason is one reason of a Decision.
type Reason struct {
	Rule Rule
	// N is the backup's rank for a counting rule (1 is the newest kept by
	// it), 0 otherwise.
	N int
	// Period is the calendar period of an hourly, daily, weekly, monthly
	// or yearly rule ("2026-W49").
	Period string
}

func (r Reason) String() string {
	s := string(r.Rule)
	if r.N > 0 {
		s += fmt.Sprintf(" #%d", r.N)
	}
	if r.Period != "" {
		s += " " + r.Period
	}
	return s
}

// Decision is what Select decided for one backup, and why.
type Decision struct {
	Backup Backup
	// Reasons lists every rule that kept the backup (in the order of the
	// Rule constants), or the one reason it is deleted.
	Reasons []Reason
}

// Result is Select's answer: every backup of its input is in exactly one
// of Keep and Delete, each list newest first (ties by ID).
type Result struct {
	Keep   []Decision
	Delete []Decision
	// NewestVerified is the ID of the newest verified backup; "" when
	// there is none (then nothing is deleted).
	NewestVerified string
}

// Options tune Select and Apply. The zero value is safe: time.Now, UTC
// calendar, unverified backups kept.
type Options struct {
	// Now is the clock KeepWithin measures from; nil means time.Now.
	Now func() time.Time
	// Location is the time zone of the calendar periods; nil means UTC.
	Location *time.Location
	// DeleteUnverified allows deleting unverified backups older than the
	// newest verified one (no rule keeps an unverified backup). Without
	// it they are kept, for a person to look at.
	DeleteUnverified bool
}

// ErrBadListing: a Store listed a backup without an ID, or one ID twice,
// so Select (and Apply) trust none of its listing and delete nothing. It
// is about the listing, not a backup's content: a backup that is not
// whole is backup.ErrInvalidBackup, which a Store reports as unverified.
var ErrBadListing = errors.New("store listing has an empty or repeated backup ID")

// Select decides which backups to keep and which to delete under p. It
// does no I/O; its Result is the dry run. The input may be in any order
// and is not modified.
//
// Whatever the policy, these invariants hold:
//
//   - the newest verified backup (latest Taken, ties broken by the
//     smallest ID) is kept;
//   - every backup taken no earlier than it is kept: it may be in
//     progress or awaiting verification;
//   - an unverified backup older than it is deleted only with
//     Options.DeleteUnverified (no rule keeps one); without a verified
//     backup nothing is deleted;
//   - a backup whose Taken is zero is kept;
//   - an empty Policy deletes nothing.
//
// The Policy rules apply to the verified backups with a known time (see
// Policy for the calendar). Errors: p.Validate's *lifeboat.OptionsError
// (lifeboat.ErrInvalidOptions), or ErrBadListing for an empty or
// repeated ID (a store that lists one backup twice is not trusted to
// delete any).
func Select(backups []Backup, p Policy, opts Options) (*Result, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(backups))
	for i, b := range backups {
		if b.ID == "" {
			return nil, fmt.Errorf("%w: backup %d has no ID", ErrBadListing, i)
		}
		if seen[b.ID] {
			return nil, fmt.Errorf("%w: ID %q listed twice", ErrBadListing, b.ID)
		}
		seen[b.ID] = true
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}

	sorted := slices.Clone(backups)
	slices.SortFunc(sorted, newestFirst)
	reasons := make(map[string][]Reason, len(sorted))
	keep := func(id string, r Reason) { reasons[id] = append(reasons[id], r) }

	var newest *Backup
	for i := range sorted {
		if sorted[i].Verified && !sorted[i].Taken.IsZero() {
			newest = &sorted[i]
			break
		}
	}
	var verified []Backup // dated, verified, newest first
	for _, b := range sorted {
		switch {
		case b.Taken.IsZero():
			keep(b.ID, Reason{Rule: KeepUnknownTime})
			continue
		case newest == nil:
			// Unverified, and no verified backup to measure against.
			keep(b.ID, Reason{Rule: KeepUnverified})
			continue
		case b.ID == newest.ID:
			keep(b.ID, Reason{Rule: KeepNewestVerified})
		case !b.Taken.Before(newest.Taken):
			keep(b.ID, Reason{Rule: KeepNotOlder})
		case !b.Verified && !opts.DeleteUnverified:
			keep(b.ID, Reason{Rule: KeepUnverified})
		}
		if b.Verified {
			verified = append(verified, b)
		}
	}

	if p.IsZero() {
		for _, b := range sorted {
			if len(reasons[b.ID]) == 0 {
				keep(b.ID, Reason{Rule: KeepNoPolicy})
			}
		}
	}
	for i, b := range verified {
		if i < p.KeepLast {
			keep(b.ID, Reason{Rule: KeepLast, N: i + 1})
		}
	}
	if p.KeepWithin > 0 {
		from := now().Add(-p.KeepWithin)
		for _, b := range verified {
			if !b.Taken.Before(from) {
				keep(b.ID, Reason{Rule: KeepWithin})
			}
		}
	}
	for _, c := range []struct {
		rule Rule
		n    int
	}{
		{KeepHourly, p.KeepHourly}, {KeepDaily, p.KeepDaily}, {KeepWeekly, p.KeepWeekly},
		{KeepMonthly, p.KeepMonthly}, {KeepYearly, p.KeepYearly},
	} {
		kept, last := 0, ""
		for _, b := range verified {
			if kept == c.n {
				break
			}
			// Newest first: the first backup seen in a period is its
			// newest.
			if per := period(c.rule, b.Taken, loc); per != last {
				last = per
				kept++
				keep(b.ID, Reason{Rule: c.rule, N: kept, Period: per})
			}
		}
	}

	res := &Result{}
	if newest != nil {
		res.NewestVerified = newest.ID
	}
	for _, b := range sorted {
		if rs := reasons[b.ID]; len(rs) > 0 {
			res.Keep = append(res.Keep, Decision{Backup: b, Reasons: rs})
			continue
		}
		why := DeleteExpired
		if !b.Verified {
			why = DeleteUnverified
		}
		res.Delete = append(res.Delete, Decision{Backup: b, Reasons: []Reason{{Rule: why}}})
	}
	return res, nil
}

// newestFirst orders backups by Taken, newest first, then by ID; zero
// times last.
func newestFirst(a, b Backup) int {
	if c := b.Taken.Compare(a.Taken); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}
