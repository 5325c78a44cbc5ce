package restore

import (
	"context"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// snapshotInfo describes a checked snapshot file: backup's description
// (SHA256 of the whole file, DBSHA256 of the database part). The backup
// format, its checks and its errors have one home, package backup.
type snapshotInfo = backup.SnapshotInfo

// verifySnapshot is the check RestoreSnapshot applies before it writes:
// backup.VerifySnapshot (the sha256 trailer in one streaming pass, then
// lifeboat's own structure check of every database page, which cannot
// panic on any input, so nothing corrupt reaches etcdutl, whose bbolt
// asserts on damage). Errors are *backup.SnapshotError.
func verifySnapshot(ctx context.Context, path string, allowNoHash bool) (snapshotInfo, error) {
	info, err := backup.VerifySnapshot(ctx, path, backup.VerifySnapshotOptions{AllowNoHash: allowNoHash})
	if info == nil {
		return snapshotInfo{Path: path}, err
	}
	return *info, err
}
