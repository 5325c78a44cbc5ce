package restore_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/internal/s3test"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestDrillRestoreFromDestination is the runbook's disaster recovered
// from a backup kept off the cluster, on a real S3 server (SeaweedFS) and
// on Azurite: the backup taken on the simulated cluster is uploaded
// compressed (zstd) and encrypted (age), the snapshot to one key and the
// static resources (the etcd encryption keys) to another under another
// prefix; the local copy is deleted; the restore fetches the newest
// verified backup in verify-backup and runs the whole plan; the end state
// is the one the runbook checks.
func TestDrillRestoreFromDestination(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	for _, dest := range []struct {
		name  string
		start func(t testing.TB) string
	}{
		{"s3", func(t testing.TB) string { return s3test.StartWeed(t).URL("") }},
		{"azblob", s3test.StartAzurite},
	} {
		t.Run(dest.name, func(t *testing.T) { drillFromDestination(t, dest.start(t)) })
	}
}

func drillFromDestination(t *testing.T, u string) {
	// Not in parallel: the servers set the AWS / Azure variables of the
	// process (t.Setenv).
	d := startDrillWith(t, false, "", false)
	snapKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	resKey, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	m, err := offsite.Upload(t.Context(), d.backupDir, offsite.UploadOptions{
		Destination: offsite.Destination{URL: u, Prefix: "clusters/drill", Recipients: []string{snapKey.Recipient().String()}},
		Resources:   &offsite.Destination{URL: u, Prefix: "keys/drill", Recipients: []string{resKey.Recipient().String()}},
		ReadBack:    true,
	})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	snap := m.Object(offsite.RoleSnapshot)
	if snap.Codec != offsite.CodecZstdAge || !m.Verified {
		t.Fatalf("uploaded %+v", m)
	}
	t.Logf("uploaded %s: snapshot %d bytes stored as %d", m.ID, snap.Size, snap.StoredSize)
	if err := os.RemoveAll(d.backupDir); err != nil {
		t.Fatal(err)
	}

	opts := d.options(t)
	opts.BackupDir = ""
	opts.FetchDir = t.TempDir()
	opts.Source = &offsite.RestoreSource{Options: offsite.FetchOptions{
		Source:     offsite.Destination{URL: u, Prefix: "clusters/drill"},
		Resources:  &offsite.Destination{URL: u, Prefix: "keys/drill"},
		Identities: []age.Identity{snapKey, resKey},
	}}
	var fetched bool
	report := opts.Report
	opts.Report = func(e plan.Event) {
		report(e)
		if e.Step.ID == "verify-backup" && strings.HasPrefix(e.Message, "fetched "+snap.Name) {
			fetched = true
		}
	}
	t0 := time.Now()
	state, err := runRestore(t.Context(), opts)
	if err != nil {
		d.c.LogTails(t, 40)
		t.Fatalf("restore from the destination: %v", err)
	}
	if !fetched || state.Backup == nil || state.Backup.Snapshot != snap.Name {
		t.Errorf("the restore did not use the fetched backup: fetched %v, state backup %+v", fetched, state.Backup)
	}
	t.Logf("restore from the destination in %s; revision bumped by %d to %d", time.Since(t0).Round(time.Second), state.Restore.RevisionBump, state.Restore.NewRevision)
	d.check(t)
}
