package restore

import (
	"context"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// SnapshotInfo describes a checked snapshot file: backup's description
// (SHA256 of the whole file, DBSHA256 of the database part). The backup
// format, its checks and its errors have one home, package backup.
type SnapshotInfo = backup.SnapshotInfo

// verifySnapshot is the check RestoreSnapshot applies before it writes:
// backup.VerifySnapshot (the sha256 trailer in one streaming pass, then
// the revision and storage version from the database) without the walk
// of every database page, which etcdutl's restore does not need. Errors
// are *backup.SnapshotError.
func verifySnapshot(ctx context.Context, path string, allowNoHash bool) (SnapshotInfo, error) {
	info, err := backup.VerifySnapshot(ctx, path, backup.VerifySnapshotOptions{SkipDBCheck: true, AllowNoHash: allowNoHash})
	if info == nil {
		return SnapshotInfo{Path: path}, err
	}
	return *info, err
}
