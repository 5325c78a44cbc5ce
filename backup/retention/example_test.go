package retention_test

import (
	"fmt"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup/retention"
)

// A week of nightly backups, the last one still being verified: keep
// three daily and two weekly ones.
func ExampleSelect() {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) // a Monday
	var backups []retention.Backup
	for d := 8; d >= 0; d-- {
		taken := time.Date(2026, 11, 30-d, 2, 15, 0, 0, time.UTC)
		backups = append(backups, retention.Backup{ID: taken.Format("2006-01-02"), Taken: taken, Verified: d > 0})
	}
	res, err := retention.Select(backups, retention.Policy{KeepDaily: 3, KeepWeekly: 2}, retention.Options{
		Now: func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	for _, d := range res.Keep {
		fmt.Println("keep  ", d.Backup.ID, d.Reasons)
	}
	for _, d := range res.Delete {
		fmt.Println("delete", d.Backup.ID, d.Reasons)
	}
	// Output:
	// keep   2026-11-30 [not-older-than-newest-verified]
	// keep   2026-11-29 [newest-verified daily #1 2026-11-29 weekly #1 2026-W48]
	// keep   2026-11-28 [daily #2 2026-11-28]
	// keep   2026-11-27 [daily #3 2026-11-27]
	// keep   2026-11-22 [weekly #2 2026-W47]
	// delete 2026-11-26 [expired]
	// delete 2026-11-25 [expired]
	// delete 2026-11-24 [expired]
	// delete 2026-11-23 [expired]
}
