package offsite_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"filippo.io/age"
	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
	"github.com/lifeboat-dev/lifeboat/plan"
	"strings"
)

// TestScrub: five backups at a real S3 server (and the filesystem)
// among objects that are not lifeboat's; one is intact, the others have
// a flipped byte in the middle of the snapshot object, a missing
// archive, a manifest edited in place, and the snapshot object of
// another backup in place of theirs. Scrub without keys (stored sha256)
// and with them (everything Fetch checks) finds each, with its status
// and sentinel, and reads every stored byte.
func TestScrub(t *testing.T) {
	cli := realEtcd(t, 1)
	names := []string{"flipped", "intact", "missing", "manifest", "swapped"}
	local := map[string]*backup.Backup{}
	for i, n := range names {
		local[n] = takeBackup(t, cli, testNow.Add(time.Duration(i)*time.Hour))
	}
	for _, d := range destinations()[:2] {
		t.Run(d.name, func(t *testing.T) {
			u := d.start(t)
			key := newIdentity(t)
			dest := offsite.Destination{URL: u, Recipients: []string{key.Recipient().String()}}
			m := map[string]*offsite.Manifest{}
			var stored int64
			for _, n := range names {
				man, err := offsite.Upload(t.Context(), local[n].Dir, offsite.UploadOptions{Destination: dest})
				if err != nil {
					t.Fatal(err)
				}
				m[n] = man
				_, s := man.Size()
				stored += s
			}
			bucket, err := blob.OpenBucket(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer bucket.Close()
			// Not lifeboat's: ignored.
			for _, k := range []string{"notes.txt", "2019-01-01_000000/half-uploaded.zst.age", "other/" + offsite.ManifestName} {
				if err := bucket.WriteAll(t.Context(), k, []byte("not a backup"), nil); err != nil {
					t.Fatal(err)
				}
			}
			snapKey := func(n string) string { return m[n].Object(offsite.RoleSnapshot).Key }
			body, err := bucket.ReadAll(t.Context(), snapKey("flipped"))
			if err != nil {
				t.Fatal(err)
			}
			attrs, err := bucket.Attributes(t.Context(), snapKey("flipped"))
			if err != nil {
				t.Fatal(err)
			}
			body[len(body)/2] ^= 0x01
			if err := bucket.WriteAll(t.Context(), snapKey("flipped"), body, &blob.WriterOptions{Metadata: attrs.Metadata}); err != nil {
				t.Fatal(err)
			}
			if err := bucket.Delete(t.Context(), m["missing"].Object(offsite.RoleResources).Key); err != nil {
				t.Fatal(err)
			}
			mk := m["manifest"].ID + "/" + offsite.ManifestName
			raw, err := bucket.ReadAll(t.Context(), mk)
			if err != nil {
				t.Fatal(err)
			}
			var j map[string]any
			if err := json.Unmarshal(raw, &j); err != nil {
				t.Fatal(err)
			}
			j["verified"] = false
			raw, _ = json.Marshal(j)
			if err := bucket.WriteAll(t.Context(), mk, raw, nil); err != nil {
				t.Fatal(err)
			}
			other, err := bucket.ReadAll(t.Context(), snapKey("intact"))
			if err != nil {
				t.Fatal(err)
			}
			if err := bucket.WriteAll(t.Context(), snapKey("swapped"), other, nil); err != nil {
				t.Fatal(err)
			}

			tests := []struct {
				name string
				ids  []age.Identity
				want map[string]offsite.ScrubStatus
				errs map[string]error
			}{
				{"stored sha256 only", nil,
					map[string]offsite.ScrubStatus{"flipped": offsite.ScrubCorrupt, "intact": offsite.ScrubOK, "missing": offsite.ScrubMissing, "manifest": offsite.ScrubCorrupt, "swapped": offsite.ScrubCorrupt},
					map[string]error{"flipped": backup.ErrHashMismatch, "missing": backup.ErrMissingFile, "manifest": backup.ErrBadManifest, "swapped": backup.ErrHashMismatch}},
				{"full, with identities", []age.Identity{key},
					map[string]offsite.ScrubStatus{"flipped": offsite.ScrubCorrupt, "intact": offsite.ScrubOK, "missing": offsite.ScrubMissing, "manifest": offsite.ScrubCorrupt, "swapped": offsite.ScrubCorrupt},
					map[string]error{"flipped": backup.ErrHashMismatch, "missing": backup.ErrMissingFile, "manifest": backup.ErrBadManifest, "swapped": offsite.ErrMismatch}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					progress, report := collectBytes(t)
					at := testNow.Add(48 * time.Hour)
					rep, err := offsite.Scrub(plan.WithReport(t.Context(), report), offsite.Destination{URL: u}, offsite.ScrubOptions{
						Identities: tc.ids,
						Now:        func() time.Time { return at },
					})
					if err != nil {
						t.Fatal(err)
					}
					if len(rep.Backups) != len(names) || rep.OK != 1 || rep.Corrupt != 3 || rep.Missing != 1 || rep.Failed != 0 || rep.Full != (tc.ids != nil) || !rep.Finished.Equal(at) {
						t.Errorf("report: %d backups, ok %d corrupt %d missing %d failed %d full %v finished %v", len(rep.Backups), rep.OK, rep.Corrupt, rep.Missing, rep.Failed, rep.Full, rep.Finished)
					}
					byID := map[string]offsite.ScrubbedBackup{}
					for _, b := range rep.Backups {
						byID[b.ID] = b
					}
					for _, n := range names {
						b, ok := byID[m[n].ID]
						if !ok || b.Status != tc.want[n] {
							t.Errorf("%s: backup %s (reported %v) status %s, want %s (%v)", n, m[n].ID, ok, b.Status, tc.want[n], b.Err)
						}
						if want := tc.errs[n]; want == nil && b.Err != nil || want != nil && !errors.Is(b.Err, want) {
							t.Errorf("%s: err %v, want %v", n, b.Err, want)
						}
						var oe *offsite.ObjectError
						if b.Err != nil && !errors.As(b.Err, &oe) {
							t.Errorf("%s: err %v is not an *ObjectError", n, b.Err)
						}
						t.Logf("%s: %s %v", n, b.Status, b.Err)
					}
					if err := rep.Err(); !errors.Is(err, backup.ErrHashMismatch) || !errors.Is(err, backup.ErrMissingFile) {
						t.Errorf("Err() = %v", err)
					}
					// Every stored byte was read, except the deleted archive's
					// and the objects of the backup whose manifest is refused
					// (decryption stops at the flipped byte's chunk).
					_, lost := m["manifest"].Size()
					want := stored - lost - m["missing"].Object(offsite.RoleResources).StoredSize
					if swapped := m["swapped"].Object(offsite.RoleSnapshot); int64(len(other)) != swapped.StoredSize {
						want -= swapped.StoredSize // refused by its size, unread
					}
					if rep.Bytes != want && (tc.ids == nil || rep.Bytes < want/2 || rep.Bytes > want) {
						t.Errorf("read %d stored bytes, want %d", rep.Bytes, want)
					}
					// The intact backup's objects are reported whole, each
					// once; damaged ones stop where their check failed.
					intact := map[string]int64{}
					for _, o := range m["intact"].Objects {
						intact["scrubbing "+o.Key] = o.StoredSize
					}
					whole := &byteEvents{events: map[string][]plan.Event{}}
					for _, msg := range progress.order {
						if !strings.HasPrefix(msg, "scrubbing ") {
							t.Errorf("unexpected transfer %q", msg)
						}
						if _, ok := intact[msg]; ok {
							whole.order = append(whole.order, msg)
							whole.events[msg] = progress.events[msg]
						}
					}
					whole.check(t, intact)
				})
			}

			t.Run("cancelled", func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				ctx = plan.WithReport(ctx, func(plan.Event) { cancel() })
				rep, err := offsite.Scrub(ctx, offsite.Destination{URL: u}, offsite.ScrubOptions{})
				if !errors.Is(err, context.Canceled) || rep == nil || len(rep.Backups) >= len(names) {
					t.Errorf("cancelled scrub: %v, %+v", err, rep)
				}
			})

			t.Run("selected IDs", func(t *testing.T) {
				rep, err := offsite.Scrub(t.Context(), offsite.Destination{URL: u}, offsite.ScrubOptions{IDs: []string{m["intact"].ID, "2001-01-01_000000"}})
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Backups) != 2 || rep.Backups[0].Status != offsite.ScrubOK || rep.Backups[1].Status != offsite.ScrubMissing || !errors.Is(rep.Backups[1].Err, retention.ErrNotFound) {
					t.Errorf("report: %+v", rep.Backups)
				}
			})
		})
	}
}

// TestScrubOptions: invalid options are refused before any I/O.
func TestScrubOptions(t *testing.T) {
	cases := []struct {
		name string
		dest offsite.Destination
		opts offsite.ScrubOptions
	}{
		{"no destination", offsite.Destination{}, offsite.ScrubOptions{}},
		{"unknown scheme", offsite.Destination{URL: "ftp://x/y"}, offsite.ScrubOptions{}},
		{"bad resources destination", offsite.Destination{URL: "file:///nonexistent"}, offsite.ScrubOptions{Resources: &offsite.Destination{URL: "ftp://x"}}},
		{"nil identity", offsite.Destination{URL: "file:///nonexistent"}, offsite.ScrubOptions{Identities: []age.Identity{nil}}},
		{"bad ID", offsite.Destination{URL: "file:///nonexistent"}, offsite.ScrubOptions{IDs: []string{"../etc"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := offsite.Scrub(t.Context(), tc.dest, tc.opts)
			if !errors.Is(err, lifeboat.ErrInvalidOptions) || rep != nil {
				t.Errorf("Scrub: %v, %v; want lifeboat.ErrInvalidOptions", rep, err)
			}
		})
	}
}

// An archive stored at another destination is skipped unless
// ScrubOptions.Resources names it; then it is checked like the rest.
func TestScrubResourcesElsewhere(t *testing.T) {
	cli := realEtcd(t, 0)
	b := takeBackup(t, cli, testNow)
	u := "file://" + t.TempDir()
	key := newIdentity(t)
	m, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{
		Destination: offsite.Destination{URL: u, Prefix: "snap", Recipients: []string{key.Recipient().String()}},
		Resources:   &offsite.Destination{URL: u, Prefix: "keys", Recipients: []string{key.Recipient().String()}},
	})
	if err != nil {
		t.Fatal(err)
	}
	snap := offsite.Destination{URL: u, Prefix: "snap"}
	keys := &offsite.Destination{URL: u, Prefix: "keys"}
	rep, err := offsite.Scrub(t.Context(), snap, offsite.ScrubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 1 || len(rep.Backups[0].Objects) != 2 || archive(rep).Status != offsite.ScrubSkipped || rep.Backups[0].Status != offsite.ScrubSkipped {
		t.Errorf("without Resources: %+v", rep.Backups)
	}

	bucket, err := blob.OpenBucket(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	k := "keys/" + m.Object(offsite.RoleResources).Key
	if err := bucket.Delete(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]age.Identity{nil, {key}} {
		rep, err = offsite.Scrub(t.Context(), snap, offsite.ScrubOptions{Resources: keys, Identities: ids})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Missing != 1 || archive(rep).Status != offsite.ScrubMissing || !errors.Is(rep.Err(), backup.ErrMissingFile) {
			t.Errorf("with Resources (identities %d): %+v", len(ids), rep.Backups)
		}
	}
}

// archive is the archive's verdict in the report's first backup.
func archive(rep *offsite.ScrubReport) offsite.ScrubbedObject {
	for _, o := range rep.Backups[0].Objects {
		if o.Role == offsite.RoleResources {
			return o
		}
	}
	return offsite.ScrubbedObject{}
}
