package offsite_test

import (
	"errors"
	"os"
	"slices"
	"testing"

	"filippo.io/age"
	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
)

// Verify checks a stored backup fully (the newest verified one, or one
// by ID) and leaves nothing in its temporary directory; a damaged object
// is refused with its sentinel.
func TestVerify(t *testing.T) {
	cli := realEtcd(t, 1)
	b := takeBackup(t, cli, testNow)
	u := "file://" + t.TempDir()
	key := newIdentity(t)
	m, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{Destination: offsite.Destination{URL: u, Recipients: []string{key.Recipient().String()}}})
	if err != nil {
		t.Fatal(err)
	}
	opts := offsite.FetchOptions{Source: offsite.Destination{URL: u}, Identities: []age.Identity{key}}
	tmp := t.TempDir()
	for _, id := range []string{"", m.ID} {
		v, err := offsite.Verify(t.Context(), id, tmp, opts)
		if err != nil {
			t.Fatalf("Verify(%q): %v", id, err)
		}
		if v.Snapshot.SHA256 != b.Snapshot.SHA256 || v.Revision != b.Revision {
			t.Errorf("Verify(%q): %+v", id, v)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Verify left %v", left)
	}

	bucket, err := blob.OpenBucket(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	k := m.Object(offsite.RoleResources).Key
	body, err := bucket.ReadAll(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	bad := slices.Clone(body)
	bad[len(bad)-20] ^= 0x80
	if err := bucket.WriteAll(t.Context(), k, bad, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := offsite.Verify(t.Context(), m.ID, tmp, opts); !errors.Is(err, backup.ErrHashMismatch) {
		t.Errorf("Verify of a damaged archive: %v, want backup.ErrHashMismatch", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Verify left %v", left)
	}
	if _, err := offsite.Verify(t.Context(), "../x", tmp, opts); !errors.Is(err, lifeboat.ErrInvalidOptions) {
		t.Errorf("bad ID: %v", err)
	}
}
