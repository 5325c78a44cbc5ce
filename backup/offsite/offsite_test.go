package offsite_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"gocloud.dev/blob"
	"golang.org/x/crypto/ssh"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/plan"
)

var testNow = time.Date(2020, 3, 18, 22, 2, 18, 0, time.Local)

// destinations are the stores every round trip runs on: the local
// filesystem always, SeaweedFS's S3 and Azurite when available.
func destinations() []struct {
	name  string
	start func(t *testing.T) string
} {
	return []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return "file://" + t.TempDir() }},
		{"s3", func(t *testing.T) string { return startWeed(t).URL("") }},
		{"azblob", startAzurite},
	}
}

// sshIdentity is a fresh ed25519 SSH key pair: the authorized_keys line
// and the age identity of its private key.
func sshIdentity(t *testing.T) (string, age.Identity) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	id, err := agessh.NewEd25519Identity(priv)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk))), id
}

// A backup taken by backup.TakePlan on a real etcd, uploaded compressed and
// encrypted (snapshot to an age key and an SSH key, the static resources
// to another key under another prefix), listed without keys, fetched
// back and verified byte-identical.
func TestUploadFetchRoundTrip(t *testing.T) {
	cli := realEtcd(t, 12)
	b := takeBackup(t, cli, testNow)
	for _, d := range destinations() {
		t.Run(d.name, func(t *testing.T) {
			u := d.start(t)
			snapID := newIdentity(t)
			sshPub, sshID := sshIdentity(t)
			resID := newIdentity(t)
			uploaded, report := collectBytes(t)
			m, err := offsite.Upload(plan.WithReport(t.Context(), report), b.Dir, offsite.UploadOptions{
				Destination: offsite.Destination{URL: u, Prefix: "clusters/prod", Recipients: []string{snapID.Recipient().String(), sshPub}},
				Resources:   &offsite.Destination{URL: u, Prefix: "keys/prod", Recipients: []string{resID.Recipient().String()}},
				PartSize:    5 << 20,
				ReadBack:    true,
				Now:         func() time.Time { return testNow.Add(time.Minute) },
			})
			if err != nil {
				t.Fatal(err)
			}
			snap, res := m.Object(offsite.RoleSnapshot), m.Object(offsite.RoleResources)
			if !m.Verified || m.ID != b.Timestamp || m.ClusterVersion != "4.5.2" || m.Revision != b.Revision || m.EtcdVersion == "" ||
				snap.SHA256 != b.Snapshot.SHA256 || snap.Size != b.Snapshot.Size || snap.Codec != offsite.CodecZstdAge ||
				snap.Key != b.Timestamp+"/"+b.Snapshot.Name+".zst.age" || len(snap.Recipients) != 2 || snap.Recipients[1].Type != "ssh-ed25519" ||
				res.Destination != offsite.DestResources || len(res.Recipients) != 1 || res.Recipients[0].Fingerprint != resID.Recipient().String() {
				t.Errorf("manifest %+v", m)
			}
			if !m.EncryptionEnabled || m.Local == nil || !m.TakenAt.Equal(testNow) {
				t.Errorf("manifest does not carry the local backup's: %+v", m)
			}
			uploaded.check(t, map[string]int64{
				"uploading " + snap.Name: snap.Size, "reading back " + snap.Name: snap.StoredSize,
				"uploading " + res.Name: res.Size, "reading back " + res.Name: res.StoredSize,
			})
			// The 12 MiB of random values do not compress; the rest does.
			t.Logf("snapshot %d bytes stored as %d (ratio %.2f)", snap.Size, snap.StoredSize, float64(snap.Size)/float64(snap.StoredSize))

			// Listing needs no key; the archive's prefix lists the backup too.
			for _, prefix := range []string{"clusters/prod", "keys/prod"} {
				ls, err := offsite.List(t.Context(), offsite.Destination{URL: u, Prefix: prefix}, offsite.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(ls) != 1 || ls[0].ID != b.Timestamp || !ls[0].Verified || ls[0].Err != nil || !ls[0].TakenAt.Equal(testNow) ||
					ls[0].Size != b.Snapshot.Size+b.Resources.Size {
					t.Errorf("List %s: %+v", prefix, ls)
				}
			}

			// Uploading again is harmless.
			if _, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{
				Destination: offsite.Destination{URL: u, Prefix: "clusters/prod", Recipients: []string{snapID.Recipient().String()}},
				Resources:   &offsite.Destination{URL: u, Prefix: "keys/prod", Recipients: []string{resID.Recipient().String()}},
			}); err != nil {
				t.Errorf("second upload: %v", err)
			}

			for name, ids := range map[string][]age.Identity{"age": {snapID, resID}, "ssh": {resID, sshID}} {
				dir := filepath.Join(t.TempDir(), "restore", name)
				fetched, report := collectBytes(t)
				got, err := offsite.Fetch(plan.WithReport(t.Context(), report), "", dir, offsite.FetchOptions{
					Source:     offsite.Destination{URL: u, Prefix: "clusters/prod"},
					Resources:  &offsite.Destination{URL: u, Prefix: "keys/prod"},
					Identities: ids,
				})
				if err != nil {
					t.Fatalf("Fetch with %s identity: %v", name, err)
				}
				fetched.check(t, map[string]int64{"downloading " + snap.Name: snap.StoredSize, "downloading " + res.Name: res.StoredSize})
				sameFile(t, b.Snapshot.Path, filepath.Join(dir, b.Snapshot.Name))
				sameFile(t, b.Resources.Path, filepath.Join(dir, b.Resources.Name))
				sameFile(t, filepath.Join(b.Dir, backup.ManifestFileName), filepath.Join(dir, backup.ManifestFileName))
				if got.Revision != b.Revision || got.Manifest == nil || got.Snapshot.Path != filepath.Join(dir, b.Snapshot.Name) {
					t.Errorf("Fetch: %+v", got)
				}
				v, err := backup.Verify(t.Context(), dir, backup.VerifyOptions{})
				if err != nil || v.Snapshot.SHA256 != b.Snapshot.SHA256 {
					t.Errorf("Verify of the fetched backup: %v", err)
				}
				entries, _ := os.ReadDir(dir)
				if len(entries) != 3 {
					t.Errorf("fetched directory holds %d entries, want the 3 files", len(entries))
				}
			}
		})
	}
}

// Every refusal leaves the target directory as it was and matches its
// sentinel.
func TestFetchRefusals(t *testing.T) {
	cli := realEtcd(t, 2)
	a := takeBackup(t, cli, testNow)
	other := takeBackup(t, cli, testNow.Add(time.Hour))
	for _, d := range destinations()[:2] {
		t.Run(d.name, func(t *testing.T) {
			u := d.start(t)
			key := newIdentity(t)
			dest := offsite.Destination{URL: u, Recipients: []string{key.Recipient().String()}}
			var ma *offsite.Manifest
			for _, bk := range []*backup.Backup{a, other} {
				m, err := offsite.Upload(t.Context(), bk.Dir, offsite.UploadOptions{Destination: dest, PartSize: 5 << 20})
				if err != nil {
					t.Fatal(err)
				}
				if bk == a {
					ma = m
				}
			}
			bucket, err := blob.OpenBucket(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer bucket.Close()
			snapKey := ma.Object(offsite.RoleSnapshot).Key
			manifestKey := a.Timestamp + "/" + offsite.ManifestName
			original := map[string][]byte{}
			for _, k := range []string{snapKey, manifestKey} {
				if original[k], err = bucket.ReadAll(t.Context(), k); err != nil {
					t.Fatal(err)
				}
			}
			put := func(t *testing.T, k string, body []byte) {
				t.Helper()
				attrs, err := bucket.Attributes(t.Context(), k)
				if err != nil {
					t.Fatal(err)
				}
				if err := bucket.WriteAll(t.Context(), k, body, &blob.WriterOptions{Metadata: attrs.Metadata}); err != nil {
					t.Fatal(err)
				}
			}
			tests := []struct {
				name    string
				alter   func(t *testing.T)
				ids     []age.Identity
				wantErr error
			}{
				{name: "wrong age identity", ids: []age.Identity{newIdentity(t)}, wantErr: offsite.ErrWrongIdentity},
				{name: "flipped byte in the middle of the compressed object", alter: func(t *testing.T) {
					body := slices.Clone(original[snapKey])
					body[len(body)/2] ^= 0x10
					put(t, snapKey, body)
				}, wantErr: backup.ErrHashMismatch},
				{name: "truncated object", alter: func(t *testing.T) {
					body := original[snapKey]
					put(t, snapKey, body[:len(body)-100<<10])
				}, wantErr: backup.ErrTruncated},
				{name: "object swapped with another backup's", alter: func(t *testing.T) {
					if err := bucket.Copy(t.Context(), snapKey, other.Timestamp+"/"+other.Snapshot.Name+".zst.age", nil); err != nil {
						t.Fatal(err)
					}
				}, wantErr: offsite.ErrMismatch},
				{name: "object swapped with another backup's, metadata lost", alter: func(t *testing.T) {
					body, err := bucket.ReadAll(t.Context(), other.Timestamp+"/"+other.Snapshot.Name+".zst.age")
					if err != nil {
						t.Fatal(err)
					}
					if err := bucket.WriteAll(t.Context(), snapKey, body, nil); err != nil {
						t.Fatal(err)
					}
				}, wantErr: offsite.ErrMismatch},
				{name: "manifest checksum does not match", alter: func(t *testing.T) {
					var m map[string]any
					if err := json.Unmarshal(original[manifestKey], &m); err != nil {
						t.Fatal(err)
					}
					m["revision"] = m["revision"].(float64) + 1
					body, _ := json.Marshal(m)
					put(t, manifestKey, body)
				}, wantErr: backup.ErrBadManifest},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					if tc.alter != nil {
						tc.alter(t)
						defer func() {
							for k, body := range original {
								put(t, k, body)
							}
						}()
					}
					ids := tc.ids
					if ids == nil {
						ids = []age.Identity{key}
					}
					dir := t.TempDir()
					write(t, filepath.Join(dir, "unrelated.txt"), "kept\n")
					before := tree(t, dir)
					_, err := offsite.Fetch(t.Context(), a.Timestamp, dir, offsite.FetchOptions{Source: offsite.Destination{URL: u}, Identities: ids})
					var oe *offsite.ObjectError
					if !errors.Is(err, tc.wantErr) || !errors.As(err, &oe) {
						t.Fatalf("err = %v, want an *ObjectError matching %v", err, tc.wantErr)
					}
					t.Logf("refused: %v", err)
					if after := tree(t, dir); !slices.Equal(before, after) {
						t.Errorf("target directory changed:\nbefore %v\nafter  %v", before, after)
					}
					// A target that did not exist is not created.
					absent := filepath.Join(t.TempDir(), "a", "b")
					if _, err := offsite.Fetch(t.Context(), a.Timestamp, absent, offsite.FetchOptions{Source: offsite.Destination{URL: u}, Identities: ids}); !errors.Is(err, tc.wantErr) {
						t.Fatalf("into a new directory: err = %v", err)
					}
					if _, err := os.Stat(filepath.Dir(absent)); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("refused fetch created %s", filepath.Dir(absent))
					}
				})
			}
			// The backup is intact again.
			if _, err := offsite.Fetch(t.Context(), a.Timestamp, t.TempDir(), offsite.FetchOptions{Source: offsite.Destination{URL: u}, Identities: []age.Identity{key}}); err != nil {
				t.Errorf("after the refusals: %v", err)
			}
		})
	}
}
