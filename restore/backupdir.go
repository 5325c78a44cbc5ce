package restore

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
)

// verifyBackupOn checks the backup directory dir on h with the one
// verifier of the backup format, backup.VerifyOn (it reads every file once
// through h, writes nothing), and returns the restore's record of it, the
// static pod revision of each component, and backup's description. The
// error is backup's *VerifyError.
func verifyBackupOn(ctx context.Context, h host.Host, dir string, log func(string)) (*BackupRecord, map[string]int, *backup.Backup, error) {
	log(fmt.Sprintf("checking %s on %s", dir, h.Name()))
	b, err := backup.VerifyOn(ctx, h, dir, backup.VerifyOptions{})
	if err != nil {
		return nil, nil, b, fmt.Errorf("verifying the backup %s on %s: %w", dir, h.Name(), err)
	}
	for _, w := range b.Warnings {
		log("backup: " + w)
	}
	rec := &BackupRecord{
		Dir:            dir,
		Snapshot:       b.Snapshot.Name,
		Archive:        b.Resources.Name,
		SHA256:         b.SnapshotInfo.DBSHA256,
		Revision:       b.Revision,
		StorageVersion: b.SnapshotInfo.StorageVersion,
		ClusterVersion: b.ClusterVersion,
		EtcdVersion:    b.EtcdVersion,
	}
	// The database's own newest revision is what the restore bumps from.
	if b.SnapshotInfo.Revision > 0 {
		rec.Revision = b.SnapshotInfo.Revision
	}
	revs := map[string]int{}
	for _, d := range b.ResourceDirs {
		revs[d.Component] = d.Revision
	}
	return rec, revs, b, nil
}
