package offsite_test

import (
	"context"
	"fmt"
	"os"

	"github.com/lifeboat-dev/lifeboat/backup/freshness"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
)

// Scrub a destination on a schedule (a CronJob) and export the result for
// alerts: lifeboat_backup_last_scrub_corrupt_backups above 0, or a
// lifeboat_backup_last_scrub_timestamp_seconds too old. Without
// identities every stored byte is checked against the manifests; with
// them, everything a restore would check.
func ExampleScrub() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "scrub")
	defer os.RemoveAll(dir)
	dest := offsite.Destination{URL: "file://" + dir} // s3://, azblob://, gs:// alike

	rep, err := offsite.Scrub(ctx, dest, offsite.ScrubOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range rep.Backups {
		fmt.Println(b.ID, b.Status, b.Err)
	}
	rec, _ := freshness.NewRecorder(freshness.Options{})
	if err := rec.RecordScrub(freshness.Scrub{Destination: "file", Finished: rep.Finished,
		Backups: len(rep.Backups), Corrupt: rep.Corrupt + rep.Missing}); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%d backups: %d ok, %d corrupt, %d missing; error %v\n", len(rep.Backups), rep.OK, rep.Corrupt, rep.Missing, rep.Err())
	// Output: 0 backups: 0 ok, 0 corrupt, 0 missing; error <nil>
}
