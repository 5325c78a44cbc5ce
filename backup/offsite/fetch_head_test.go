package offsite_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"gocloud.dev/blob"
	"golang.org/x/crypto/ssh"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
)

// Damage inside an object's first HeadSize bytes (its age header and the
// start of its first chunk) is corruption or truncation, not "another
// backup's object": only an intact object that is not the one recorded is
// ErrMismatch. Fetch and Scrub (with and without identities) agree.
func TestDamageInTheHead(t *testing.T) {
	cli := realEtcd(t, 0)
	a := takeBackup(t, cli, testNow)
	other := takeBackup(t, cli, testNow.Add(time.Hour))
	u := "file://" + t.TempDir()
	key := newIdentity(t)
	dest := offsite.Destination{URL: u, Recipients: []string{key.Recipient().String()}}
	var ma, mo *offsite.Manifest
	for _, p := range []struct {
		dir string
		m   **offsite.Manifest
	}{{a.Dir, &ma}, {other.Dir, &mo}} {
		m, err := offsite.Upload(t.Context(), p.dir, offsite.UploadOptions{Destination: dest})
		if err != nil {
			t.Fatal(err)
		}
		*p.m = m
	}
	bucket, err := blob.OpenBucket(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	snapKey := ma.Object(offsite.RoleSnapshot).Key
	orig, err := bucket.ReadAll(t.Context(), snapKey)
	if err != nil {
		t.Fatal(err)
	}
	otherBody, err := bucket.ReadAll(t.Context(), mo.Object(offsite.RoleSnapshot).Key)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte { b := slices.Clone(orig); b[at] ^= 0x01; return b }
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"flipped byte in the age intro line", flip(3), backup.ErrHashMismatch},
		{"flipped byte in the recipient stanza", flip(40), backup.ErrHashMismatch},
		{"flipped byte in the header MAC", flip(bytes.Index(orig, []byte("\n--- ")) + 6), backup.ErrHashMismatch},
		{"flipped byte at the start of the payload", flip(offsite.HeadSize - 10), backup.ErrHashMismatch},
		{"truncated inside the head", orig[:offsite.HeadSize/2], backup.ErrTruncated},
		{"another backup's object in its place", otherBody, offsite.ErrMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := bucket.WriteAll(t.Context(), snapKey, tc.body, nil); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := bucket.WriteAll(t.Context(), snapKey, orig, nil); err != nil {
					t.Fatal(err)
				}
			}()
			_, err := offsite.Fetch(t.Context(), a.Timestamp, t.TempDir(), offsite.FetchOptions{Source: offsite.Destination{URL: u}, Identities: []age.Identity{key}})
			var oe *offsite.ObjectError
			if !errors.Is(err, tc.want) || !errors.As(err, &oe) || oe.Key != snapKey {
				t.Fatalf("Fetch: err = %v, want an *ObjectError on %s matching %v", err, snapKey, tc.want)
			}
			for _, other := range []error{backup.ErrHashMismatch, backup.ErrTruncated, offsite.ErrMismatch} {
				if other != tc.want && errors.Is(err, other) {
					t.Errorf("Fetch: err = %v also matches %v", err, other)
				}
			}
		})
	}
}

// With recipients whose stanzas do not fit in the first HeadSize bytes (an
// ssh-rsa key), a damaged stanza of the caller's identity beyond them is
// backup.ErrHashMismatch (the stored sha256 tells), while a key that is
// really not a recipient of the intact object stays ErrWrongIdentity.
func TestDamagedStanzaBeyondTheHead(t *testing.T) {
	cli := realEtcd(t, 0)
	b := takeBackup(t, cli, testNow)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	key := newIdentity(t)
	u := "file://" + t.TempDir()
	m, err := offsite.Upload(t.Context(), b.Dir, offsite.UploadOptions{Destination: offsite.Destination{URL: u,
		Recipients: []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), key.Recipient().String()}}})
	if err != nil {
		t.Fatal(err)
	}
	bucket, err := blob.OpenBucket(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	k := m.Object(offsite.RoleSnapshot).Key
	orig, err := bucket.ReadAll(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	// A character in the middle of the X25519 stanza's body (the wrapped
	// file key), the line before the header's MAC line, replaced by another
	// base64 character: the header still parses.
	at := bytes.Index(orig, []byte("\n--- ")) - 20
	if at < offsite.HeadSize {
		t.Fatalf("the header ends at %d, within the first %d bytes: the test needs a longer one", at, offsite.HeadSize)
	}
	opts := offsite.FetchOptions{Source: offsite.Destination{URL: u}, Identities: []age.Identity{key}}
	if _, err := offsite.Fetch(t.Context(), m.ID, t.TempDir(), offsite.FetchOptions{Source: opts.Source, Identities: []age.Identity{newIdentity(t)}}); !errors.Is(err, offsite.ErrWrongIdentity) {
		t.Errorf("another key on the intact object: %v, want ErrWrongIdentity", err)
	}
	bad := slices.Clone(orig)
	if bad[at] == 'A' {
		bad[at] = 'B'
	} else {
		bad[at] = 'A'
	}
	if err := bucket.WriteAll(t.Context(), k, bad, nil); err != nil {
		t.Fatal(err)
	}
	_, err = offsite.Fetch(t.Context(), m.ID, t.TempDir(), opts)
	if !errors.Is(err, backup.ErrHashMismatch) || errors.Is(err, offsite.ErrWrongIdentity) {
		t.Errorf("damaged stanza at byte %d: %v, want backup.ErrHashMismatch", at, err)
	}
	rep, err := offsite.Scrub(t.Context(), opts.Source, offsite.ScrubOptions{Identities: opts.Identities})
	if err != nil || rep.Corrupt != 1 {
		t.Errorf("scrub with identities: %+v, %v", rep, err)
	}
}
