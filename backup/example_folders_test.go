package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// Pick the newest run of the cluster's automated backups on the PVC an
// EtcdBackup wrote to, then check it (here it is empty, as a run whose job
// died leaves it), as a restore would.
func ExampleLatestFolder() {
	ctx := context.Background()
	pvc, _ := os.MkdirTemp("", "pvc")
	defer os.RemoveAll(pvc)
	for _, d := range []string{
		"backup-nightly-29012344-2026-11-29_020000",
		"backup-nightly-29012345-2026-11-30_020000",
		"lost+found",
	} {
		os.Mkdir(filepath.Join(pvc, d), 0o700)
	}

	f, err := backup.LatestFolder(ctx, pvc, backup.FolderOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Name, "EtcdBackup", f.BackupName, "requested", f.Time)

	_, err = backup.Verify(ctx, pvc, backup.VerifyOptions{})
	fmt.Println("the PVC root itself:", errors.Is(err, backup.ErrBackupRoot))
	_, err = backup.Verify(ctx, f.Path, backup.VerifyOptions{SkipDBCheck: true})
	fmt.Println("the empty run:", errors.Is(err, backup.ErrMissingFile))
	// Output:
	// backup-nightly-29012345-2026-11-30_020000 EtcdBackup nightly-29012345 requested 2026-11-30 02:00:00 +0000 UTC
	// the PVC root itself: true
	// the empty run: true
}
