package retention

import (
	"maps"
	"testing"
	"time"
)

// Calendar edges the year test does not reach: ISO weeks across a year
// boundary, and Options.Location.
func TestSelectCalendar(t *testing.T) {
	day := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name    string
		backups map[string]time.Time
		policy  Policy
		loc     *time.Location
		want    []string
	}{
		{
			// Monday 30 December 2024 begins ISO week 2025-W01; Sunday 29
			// December is 2024-W52. Calendar years would group them the
			// other way.
			name: "ISO week across the new year",
			backups: map[string]time.Time{
				"sun-2024-12-29": day(2024, 12, 29, 12), "mon-2024-12-30": day(2024, 12, 30, 12),
				"wed-2025-01-01": day(2025, 1, 1, 12), "sun-2025-01-05": day(2025, 1, 5, 12),
			},
			policy: Policy{KeepWeekly: 2},
			want:   []string{"sun-2025-01-05", "sun-2024-12-29"},
		},
		{
			name: "yearly is the calendar year, not the ISO year",
			backups: map[string]time.Time{
				"mon-2024-12-30": day(2024, 12, 30, 12), "tue-2024-12-31": day(2024, 12, 31, 12), "wed-2025-01-01": day(2025, 1, 1, 12),
			},
			policy: Policy{KeepYearly: 2},
			want:   []string{"wed-2025-01-01", "tue-2024-12-31"},
		},
		{
			name: "daily in UTC",
			backups: map[string]time.Time{
				"22:30": time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC), "23:30": time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC),
				"next-10:00": time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
			},
			policy: Policy{KeepDaily: 2},
			want:   []string{"next-10:00", "23:30"},
		},
		{
			// At UTC+2, 22:30 and 23:30 UTC are already the next day.
			name: "daily in another zone",
			backups: map[string]time.Time{
				"21:30": time.Date(2026, 3, 1, 21, 30, 0, 0, time.UTC), "22:30": time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC),
				"next-10:00": time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC),
			},
			policy: Policy{KeepDaily: 2},
			loc:    time.FixedZone("UTC+2", 2*3600),
			want:   []string{"next-10:00", "21:30"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in []Backup
			for id, ts := range tc.backups {
				in = append(in, Backup{ID: id, Taken: ts, Verified: true})
			}
			res, err := Select(in, tc.policy, Options{Now: func() time.Time { return day(2027, 1, 1, 0) }, Location: tc.loc})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, d := range res.Keep {
				got[d.Backup.ID] = true
			}
			want := map[string]bool{}
			for _, id := range tc.want {
				want[id] = true
			}
			if !maps.Equal(got, want) {
				t.Errorf("kept %v, want %v", got, want)
			}
		})
	}
}
