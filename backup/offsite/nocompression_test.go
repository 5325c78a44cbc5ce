package offsite_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat/backup/offsite"
)

// TestUploadNoCompression: ZstdLevel NoCompression stores each object as
// the age encryption of the file's own bytes (codec "age", key
// "<id>/<name>.age", no zstd frame inside), on a snapshot that zstd would
// shrink a lot, and Fetch restores it.
func TestUploadNoCompression(t *testing.T) {
	cli := realEtcd(t, 0) // 2000 small, very compressible values
	b := takeBackup(t, cli, testNow)
	root := t.TempDir()
	id := newIdentity(t)
	m, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{
		Destination: offsite.Destination{URL: "file://" + root, Recipients: []string{id.Recipient().String()}},
		ZstdLevel:   offsite.NoCompression,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*offsite.Object{m.Object(offsite.RoleSnapshot), m.Object(offsite.RoleResources)} {
		if o.Codec != "age" || o.Key != b.Timestamp+"/"+o.Name+".age" || o.ZstdLevel != 0 {
			t.Errorf("%s: codec %q, key %q, level %d; want age, %s/%s.age, 0", o.Name, o.Codec, o.Key, o.ZstdLevel, b.Timestamp, o.Name)
		}
		if o.StoredSize <= o.Size {
			t.Errorf("%s: stored %d bytes for %d: compressed", o.Name, o.StoredSize, o.Size)
		}
		stored, err := os.Open(filepath.Join(root, filepath.FromSlash(o.Key)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := age.Decrypt(stored, id)
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		plain, err := io.ReadAll(r)
		stored.Close()
		if err != nil {
			t.Fatal(err)
		}
		local, err := os.ReadFile(filepath.Join(b.Dir, o.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(plain, local) {
			t.Errorf("%s: decrypted object (%d bytes) is not the local file (%d bytes)", o.Key, len(plain), len(local))
		}
	}
	dir := t.TempDir()
	got, err := offsite.Fetch(t.Context(), m.ID, dir, offsite.FetchOptions{
		Source: offsite.Destination{URL: "file://" + root}, Identities: []age.Identity{id},
	})
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got.Snapshot.Path, b.Snapshot.Path)
}
