package retention

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// The fake clock: a Monday afternoon, so the current ISO week holds one
// day, the current month 30 days and the year began 11 months ago.
var yearNow = time.Date(2026, 11, 30, 13, 40, 0, 0, time.UTC)

// hourly returns a year of verified hourly backups taken at :17 past each
// hour, the newest at yearNow's hour, shuffled, and their times by ID.
func hourly(t *testing.T) ([]Backup, map[string]time.Time) {
	t.Helper()
	last := time.Date(2026, 11, 30, 13, 17, 0, 0, time.UTC)
	first := last.Add(-365 * 24 * time.Hour)
	var bs []Backup
	at := map[string]time.Time{}
	for ts := first; !ts.After(last); ts = ts.Add(time.Hour) {
		id := ts.Format("20060102T1504")
		bs = append(bs, Backup{ID: id, Taken: ts, Verified: true})
		at[id] = ts
	}
	if len(bs) != 365*24+1 {
		t.Fatalf("generated %d backups", len(bs))
	}
	// Input order must not matter: reverse halves.
	slices.Reverse(bs[:len(bs)/2])
	slices.Reverse(bs)
	return bs, at
}

func idOf(ts time.Time) string { return ts.Format("20060102T1504") }

// The expectations below are computed from the calendar by hand (the
// newest backup of a past day is 23:17, of a past ISO week Sunday 23:17,
// of a past month its last day at 23:17), not with the package's period
// code.
func TestSelectYearOfHourly(t *testing.T) {
	last := time.Date(2026, 11, 30, 13, 17, 0, 0, time.UTC)
	first := last.Add(-365 * 24 * time.Hour) // 2025-11-30 13:17
	in := func(ts time.Time) bool { return !ts.Before(first) && !ts.After(last) }
	set := func(ts ...time.Time) map[string]bool {
		m := map[string]bool{}
		for _, x := range ts {
			if !in(x) {
				t.Fatalf("expected backup %s is outside the generated range", x)
			}
			m[idOf(x)] = true
		}
		return m
	}
	lastN := func(n int) []time.Time {
		var ts []time.Time
		for i := range n {
			ts = append(ts, last.Add(-time.Duration(i)*time.Hour))
		}
		return ts
	}
	// Newest of each of the last n days: today's newest is `last`, then
	// 23:17 of each earlier day.
	days := func(n int) []time.Time {
		ts := []time.Time{last}
		for i := 1; i < n; i++ {
			d := last.AddDate(0, 0, -i)
			ts = append(ts, time.Date(d.Year(), d.Month(), d.Day(), 23, 17, 0, 0, time.UTC))
		}
		return ts
	}
	// 2026-11-30 is a Monday: the current ISO week's newest is `last`,
	// the earlier weeks' Sunday 23:17 (Sunday 29 November, 22 November...).
	weeks := func(n int) []time.Time {
		if last.Weekday() != time.Monday {
			t.Fatal("fake clock moved: fix the weekly expectation")
		}
		ts := []time.Time{last}
		sunday := time.Date(2026, 11, 29, 23, 17, 0, 0, time.UTC)
		for i := 0; i < n-1; i++ {
			ts = append(ts, sunday.AddDate(0, 0, -7*i))
		}
		return ts
	}
	// The current month's newest is `last`; an earlier month's is the
	// hour before the next month began, at :17.
	months := func(n int) []time.Time {
		ts := []time.Time{last}
		for i := 1; i < n; i++ {
			next := time.Date(2026, time.Month(11-i+1), 1, 0, 17, 0, 0, time.UTC)
			m := next.Add(-time.Hour)
			ts = append(ts, m)
		}
		return ts
	}
	union := func(ms ...map[string]bool) map[string]bool {
		u := map[string]bool{}
		for _, m := range ms {
			maps.Copy(u, m)
		}
		return u
	}

	tests := []struct {
		name   string
		policy Policy
		want   map[string]bool
	}{
		{name: "last 10", policy: Policy{KeepLast: 10}, want: set(lastN(10)...)},
		{name: "last 1", policy: Policy{KeepLast: 1}, want: set(last)},
		{name: "last more than exist", policy: Policy{KeepLast: 10000}, want: set(lastN(365*24 + 1)...)},
		// Within 72h of 13:40: from 27 Nov 13:40, so 27 Nov 14:17 is the
		// oldest kept: 72 backups.
		{name: "within 72h", policy: Policy{KeepWithin: 72 * time.Hour}, want: set(lastN(72)...)},
		// Within 72h23m of 13:40 reaches 27 Nov 13:17 exactly (inclusive).
		{name: "within boundary inclusive", policy: Policy{KeepWithin: 72*time.Hour + 23*time.Minute}, want: set(lastN(73)...)},
		{name: "hourly 36", policy: Policy{KeepHourly: 36}, want: set(lastN(36)...)},
		{name: "daily 7", policy: Policy{KeepDaily: 7}, want: set(days(7)...)},
		{name: "weekly 5", policy: Policy{KeepWeekly: 5}, want: set(weeks(5)...)},
		{name: "monthly 12", policy: Policy{KeepMonthly: 12}, want: set(months(12)...)},
		// The 13th month is November 2025, whose newest is 30 Nov 23:17.
		{name: "monthly 13 reaches the partial first month", policy: Policy{KeepMonthly: 13},
			want: union(set(months(12)...), set(time.Date(2025, 11, 30, 23, 17, 0, 0, time.UTC)))},
		// Periods without backups do not count: 20 months keep all 13.
		{name: "monthly 20 keeps every month", policy: Policy{KeepMonthly: 20},
			want: union(set(months(12)...), set(time.Date(2025, 11, 30, 23, 17, 0, 0, time.UTC)))},
		{name: "yearly 3", policy: Policy{KeepYearly: 3},
			want: set(last, time.Date(2025, 12, 31, 23, 17, 0, 0, time.UTC))},
		{name: "gfs", policy: Policy{KeepHourly: 24, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 6, KeepYearly: 2},
			want: union(set(lastN(24)...), set(days(7)...), set(weeks(4)...), set(months(6)...),
				set(time.Date(2025, 12, 31, 23, 17, 0, 0, time.UTC)))},
		{name: "gfs with last and within", policy: Policy{KeepLast: 3, KeepWithin: 48 * time.Hour, KeepDaily: 10, KeepMonthly: 3},
			want: union(set(lastN(48)...), set(days(10)...), set(months(3)...))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs, at := hourly(t)
			res, err := Select(bs, tc.policy, Options{Now: func() time.Time { return yearNow }})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, d := range res.Keep {
				got[d.Backup.ID] = true
			}
			if len(res.Keep)+len(res.Delete) != len(bs) {
				t.Fatalf("%d kept + %d deleted, want %d in all", len(res.Keep), len(res.Delete), len(bs))
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("policy %v: kept %d, want %d\n missing: %v\n extra: %v", tc.policy, len(got), len(tc.want),
					diff(tc.want, got, at), diff(got, tc.want, at))
			}
			if res.NewestVerified != idOf(last) || !got[idOf(last)] {
				t.Errorf("newest verified %q kept=%v, want %s kept", res.NewestVerified, got[idOf(last)], idOf(last))
			}
			checkSorted(t, res)
		})
	}
}

func diff(a, b map[string]bool, at map[string]time.Time) []string {
	var d []string
	for id := range a {
		if !b[id] {
			d = append(d, fmt.Sprint(at[id].Format("2006-01-02 15:04 Mon")))
		}
	}
	slices.Sort(d)
	if len(d) > 10 {
		d = append(d[:10], fmt.Sprintf("... %d more", len(d)-10))
	}
	return d
}

func checkSorted(t *testing.T, res *Result) {
	t.Helper()
	for _, l := range [][]Decision{res.Keep, res.Delete} {
		for i := 1; i < len(l); i++ {
			a, b := l[i-1].Backup, l[i].Backup
			if a.Taken.Before(b.Taken) || (a.Taken.Equal(b.Taken) && a.ID >= b.ID) {
				t.Fatalf("not newest first: %v before %v", a, b)
			}
		}
		for _, d := range l {
			if len(d.Reasons) == 0 {
				t.Fatalf("%s has no reason", d.Backup.ID)
			}
		}
	}
}
