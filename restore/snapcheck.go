package restore

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/boltcheck"
)

// checkSnapshotDB checks the snapshot's database (info.Size bytes, less
// the trailer when info.HasHash) with lifeboat's own bolt structure and
// etcd schema check, which reads it page by page and cannot panic or
// fault on any input, and fills in its revision and storage version. It
// runs before any database is handed to bbolt or etcdutl, which map the
// file and assert (panic, sometimes in their own goroutines) on damage.
// A damaged database is an error wrapping both ErrCorruptSnapshot and
// backup.ErrCorruptDatabase, and a *boltcheck.CorruptError naming the page.
func checkSnapshotDB(ctx context.Context, path string, info *SnapshotInfo) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	size := info.Size
	if info.HasHash {
		size -= 32
	}
	rep, err := boltcheck.CheckEtcd(ctx, f, size, boltcheck.Options{})
	if errors.Is(err, boltcheck.ErrCorrupt) {
		return fmt.Errorf("%w: %w: %w", ErrCorruptSnapshot, backup.ErrCorruptDatabase, err)
	} else if err != nil {
		return err
	}
	info.Revision, info.StorageVersion = rep.Revision, rep.StorageVersion
	return nil
}
