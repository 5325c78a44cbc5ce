package retention

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Policy says which backups to keep. Every rule keeps what it selects; a
// backup no rule keeps (and no invariant protects, see Select) is deleted.
// The zero Policy keeps everything: it deletes nothing.
//
// The count rules follow restic's "forget --keep-*": each rule is applied
// on its own to the verified backups, newest first, and keeps the newest
// verified backup of each of the N most recent periods that hold one
// (periods without a verified backup do not count, so a rule never keeps
// less because backups were missed). A backup kept by several rules
// carries every reason. Periods are calendar periods in Options.Location
// (UTC by default):
//
//   - hourly: the clock hour, e.g. "2026-11-30T13";
//   - daily: the calendar day, "2026-11-30";
//   - weekly: the ISO 8601 week (weeks start on Monday; the week of
//     4 January is week 1 of its ISO year), "2026-W49";
//   - monthly: the calendar month, "2026-11";
//   - yearly: the calendar year, "2026".
type Policy struct {
	// KeepLast keeps the N newest verified backups.
	KeepLast int
	// KeepWithin keeps every verified backup taken at most this long
	// before Now (borg's --keep-within; restic measures from the newest
	// backup instead, here the newest verified backup is always kept
	// anyway). Zero disables the rule.
	KeepWithin time.Duration
	// KeepHourly, KeepDaily, KeepWeekly, KeepMonthly and KeepYearly keep
	// the newest verified backup of each of the N most recent hours, days,
	// ISO weeks, months and years that hold a verified backup.
	KeepHourly  int
	KeepDaily   int
	KeepWeekly  int
	KeepMonthly int
	KeepYearly  int
}

// IsZero reports whether p has no rule: such a policy deletes nothing.
func (p Policy) IsZero() bool { return p == Policy{} }

// Validate reports every invalid field of p, a negative count or a
// negative KeepWithin, as a *lifeboat.OptionsError naming the field
// ("retention.Policy.KeepDaily"), joined with errors.Join when there are
// several: errors.Is(err, lifeboat.ErrInvalidOptions) holds, as for every
// option of every lifeboat package.
func (p Policy) Validate() error {
	var errs []error
	for _, c := range []struct {
		field string
		n     int
	}{
		{"KeepLast", p.KeepLast}, {"KeepHourly", p.KeepHourly}, {"KeepDaily", p.KeepDaily},
		{"KeepWeekly", p.KeepWeekly}, {"KeepMonthly", p.KeepMonthly}, {"KeepYearly", p.KeepYearly},
	} {
		if c.n < 0 {
			errs = append(errs, opterr.New("retention.Policy."+c.field, "%d must not be negative (0 disables the rule)", c.n))
		}
	}
	if p.KeepWithin < 0 {
		errs = append(errs, opterr.New("retention.Policy.KeepWithin", "%v must not be negative (0 disables the rule)", p.KeepWithin))
	}
	return errors.Join(errs...)
}

// String describes p, e.g. "keep 7 daily, 4 weekly and those within
// 72h0m0s"; "keep all" for the zero Policy.
func (p Policy) String() string {
	if p.IsZero() {
		return "keep all"
	}
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{
		{p.KeepLast, "last"}, {p.KeepHourly, "hourly"}, {p.KeepDaily, "daily"},
		{p.KeepWeekly, "weekly"}, {p.KeepMonthly, "monthly"}, {p.KeepYearly, "yearly"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if p.KeepWithin > 0 {
		parts = append(parts, "those within "+p.KeepWithin.String())
	}
	if len(parts) == 1 {
		return "keep " + parts[0]
	}
	return "keep " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// period returns the bucket of t for a calendar rule, in loc.
func period(r Rule, t time.Time, loc *time.Location) string {
	t = t.In(loc)
	switch r {
	case KeepHourly:
		return t.Format("2006-01-02T15")
	case KeepDaily:
		return t.Format("2006-01-02")
	case KeepWeekly:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case KeepMonthly:
		return t.Format("2006-01")
	case KeepYearly:
		return t.Format("2006")
	}
	return ""
}
