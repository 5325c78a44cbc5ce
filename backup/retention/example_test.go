package retention_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
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

// A dry run over a directory holding one backup.TakePlan output per
// subdirectory (and other things, which are left alone).
func ExampleApply() {
	root, _ := os.MkdirTemp("", "backups")
	defer os.RemoveAll(root)
	for d := 1; d <= 4; d++ {
		taken := time.Date(2026, 11, d, 2, 15, 0, 0, time.UTC)
		writeBackup(root, taken) // what backup.TakePlan writes
	}
	_ = os.WriteFile(filepath.Join(root, "README"), []byte("not a backup"), 0o600)

	store, err := retention.NewDirStore(root, retention.DirStoreOptions{})
	if err != nil {
		panic(err)
	}
	rep, err := retention.Apply(context.Background(), store, retention.Policy{KeepLast: 2}, retention.ApplyOptions{DryRun: true})
	if err != nil {
		panic(err)
	}
	for _, d := range rep.Delete {
		fmt.Println("would delete", d.Backup.ID, d.Reasons)
	}
	// Output:
	// would delete 2026-11-02_021500 [expired]
	// would delete 2026-11-01_021500 [expired]
}

// writeBackup stands in for backup.TakePlan: the two files and backup.json.
func writeBackup(root string, taken time.Time) {
	stamp := backup.Timestamp(taken)
	dir := filepath.Join(root, stamp)
	_ = os.Mkdir(dir, 0o700)
	m := &backup.Manifest{Format: backup.ManifestFormat, Timestamp: stamp, CreatedAt: taken}
	for _, f := range []struct {
		mf   *backup.ManifestFile
		name string
	}{{&m.Snapshot, backup.SnapshotFileName(stamp, false)}, {&m.Resources, backup.ResourcesFileName(stamp, false)}} {
		_ = os.WriteFile(filepath.Join(dir, f.name), []byte("data"), 0o600)
		*f.mf = backup.ManifestFile{Name: f.name, Size: 4}
	}
	_ = backup.WriteManifest(dir, m)
}
