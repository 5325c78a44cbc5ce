package offsite_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
)

// TestRetentionStore applies a KeepLast policy to a destination holding
// four lifeboat backups (static pod resources under another prefix), an
// upload that never finished and a file of another tool: the two oldest
// backups go, manifest and objects in both prefixes; the rest stays.
func TestRetentionStore(t *testing.T) {
	cli := realEtcd(t, 0)
	root := t.TempDir()
	u := "file://" + root
	id := newIdentity(t)
	dest := offsite.Destination{URL: u, Prefix: "snap", Recipients: []string{id.Recipient().String()}}
	res := &offsite.Destination{URL: u, Prefix: "keys", Recipients: []string{id.Recipient().String()}}
	var ids []string
	for i := range 4 {
		at := testNow.Add(time.Duration(i-4) * 24 * time.Hour)
		b := takeBackup(t, cli, at)
		m, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{Destination: dest, Resources: res, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	for _, p := range []string{"snap/20200101-000000/snapshot_20200101-000000.db.zst.age", "snap/other-tool/readme.txt"} {
		write(t, filepath.Join(root, filepath.FromSlash(p)), "not lifeboat's\n")
	}
	store := &offsite.RetentionStore{Destination: offsite.Destination{URL: u, Prefix: "snap"}, Resources: &offsite.Destination{URL: u, Prefix: "keys"}}
	rep, err := retention.Apply(t.Context(), store, retention.Policy{KeepLast: 2}, retention.ApplyOptions{Options: retention.Options{Now: func() time.Time { return testNow }}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Deleted, ids[:2]) {
		t.Fatalf("deleted %v, want %v", rep.Deleted, ids[:2])
	}
	left, err := store.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].ID != ids[2] || left[1].ID != ids[3] || !left[0].Verified {
		t.Errorf("left %+v", left)
	}
	for _, gone := range ids[:2] {
		for _, prefix := range []string{"snap", "keys"} {
			if _, err := os.Stat(filepath.Join(root, prefix, gone)); !errors.Is(err, os.ErrNotExist) {
				if entries, _ := os.ReadDir(filepath.Join(root, prefix, gone)); len(entries) > 0 {
					t.Errorf("%s/%s still holds %d objects", prefix, gone, len(entries))
				}
			}
		}
	}
	for _, p := range []string{"snap/20200101-000000/snapshot_20200101-000000.db.zst.age", "snap/other-tool/readme.txt"} {
		if b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p))); err != nil || !bytes.Equal(b, []byte("not lifeboat's\n")) {
			t.Errorf("%s, not lifeboat's, was touched: %v", p, err)
		}
	}
	// Deleting again: gone. A half-deleted backup (manifest gone, objects
	// left) is finished off.
	if err := store.Delete(t.Context(), ids[0]); !errors.Is(err, retention.ErrNotFound) {
		t.Errorf("second delete = %v, want retention.ErrNotFound", err)
	}
	if err := os.Remove(filepath.Join(root, "snap", ids[2], offsite.ManifestName)); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(t.Context(), ids[2]); err != nil {
		t.Errorf("delete of a half-deleted backup: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "keys", ids[2])); len(entries) > 0 {
		t.Errorf("keys/%s still holds %d objects", ids[2], len(entries))
	}
	// The same refusal as retention.DirStore's, so one errors.Is serves
	// every Store.
	if err := store.Delete(t.Context(), "../etc"); !errors.Is(err, retention.ErrNotBackup) {
		t.Errorf("delete of a bad ID = %v, want retention.ErrNotBackup", err)
	}
}
