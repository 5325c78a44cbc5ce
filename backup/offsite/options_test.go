package offsite

import (
	"errors"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
)

func TestUploadOptionsValidate(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := id.Recipient().String()
	ok := func() UploadOptions {
		return UploadOptions{Destination: Destination{URL: "file:///tmp/x", Recipients: []string{key}}}
	}
	tests := []struct {
		name    string
		mutate  func(*UploadOptions)
		wantErr bool
	}{
		{name: "ok"},
		{name: "ssh recipient", mutate: func(o *UploadOptions) {
			o.Destination.Recipients = []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN"}
		}},
		{name: "no recipient", mutate: func(o *UploadOptions) { o.Destination.Recipients = nil }, wantErr: true},
		{name: "an identity given as recipient", mutate: func(o *UploadOptions) { o.Destination.Recipients = []string{id.String()} }, wantErr: true},
		{name: "garbled age key", mutate: func(o *UploadOptions) { o.Destination.Recipients = []string{key[:20]} }, wantErr: true},
		{name: "no URL", mutate: func(o *UploadOptions) { o.Destination.URL = "" }, wantErr: true},
		{name: "unknown scheme", mutate: func(o *UploadOptions) { o.Destination.URL = "ftp://host/x" }, wantErr: true},
		{name: "absolute prefix", mutate: func(o *UploadOptions) { o.Destination.Prefix = "/x" }, wantErr: true},
		{name: "escaping prefix", mutate: func(o *UploadOptions) { o.Destination.Prefix = "../x" }, wantErr: true},
		{name: "level too high", mutate: func(o *UploadOptions) { o.ZstdLevel = 23 }, wantErr: true},
		{name: "no compression", mutate: func(o *UploadOptions) { o.ZstdLevel = NoCompression }},
		{name: "negative retries", mutate: func(o *UploadOptions) { o.Retry.MaxAttempts = -1 }, wantErr: true},
		{name: "resources without recipients", mutate: func(o *UploadOptions) { o.Resources = &Destination{} }, wantErr: true},
		{name: "resources prefix without bucket", mutate: func(o *UploadOptions) {
			o.Resources = &Destination{Prefix: "keys", Recipients: []string{key}}
		}, wantErr: true},
		{name: "resources elsewhere", mutate: func(o *UploadOptions) {
			o.Resources = &Destination{URL: "file:///tmp/y", Prefix: "keys", Recipients: []string{key}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok()
			if tc.mutate != nil {
				tc.mutate(&o)
			}
			err := o.Validate()
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, lifeboat.ErrInvalidOptions)) {
				t.Fatalf("Validate() = %v, want error %v (lifeboat.ErrInvalidOptions)", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "AGE-SECRET-KEY") {
				t.Errorf("error quotes a secret key: %v", err)
			}
		})
	}
}

func TestParseManifest(t *testing.T) {
	m := &Manifest{Format: manifestFormat, Kind: manifestKind, ID: "2020-03-18_220218", Objects: []Object{
		{Role: RoleSnapshot, Name: "snapshot_2020-03-18_220218.db", Key: "2020-03-18_220218/snapshot_2020-03-18_220218.db.zst.age", Codec: CodecZstdAge, Destination: destPrimary},
		{Role: RoleResources, Name: "static_kuberesources_2020-03-18_220218.tar.gz", Key: "2020-03-18_220218/static_kuberesources_2020-03-18_220218.tar.gz.zst.age", Codec: CodecZstdAge, Destination: destPrimary},
	}}
	good, err := m.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseManifest(good); err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	tests := map[string]func(string) string{
		"not JSON":         func(s string) string { return s[:len(s)/2] },
		"checksum changed": func(s string) string { return strings.Replace(s, `"checksum": "`, `"checksum": "0`, 1) },
		"content changed":  func(s string) string { return strings.Replace(s, `"revision": 0`, `"revision": 1`, 1) },
		"key escapes its backup": func(s string) string {
			return strings.Replace(s, `"key": "2020-03-18_220218/snapshot`, `"key": "../snapshot`, 1)
		},
		"other kind": func(s string) string { return strings.Replace(s, manifestKind, "x", 1) },
	}
	// A manifest sealed with a valid checksum is still checked.
	escaping := *m
	escaping.Objects = append([]Object(nil), m.Objects...)
	escaping.Objects[0].Key = "../snapshot_2020-03-18_220218.db.zst.age"
	sealed, err := escaping.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseManifest(sealed); !errors.Is(err, backup.ErrBadManifest) || !strings.Contains(err.Error(), "not a file under") {
		t.Errorf("sealed manifest with an escaping key: err = %v", err)
	}
	for name, alter := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := parseManifest([]byte(alter(string(good)))); !errors.Is(err, backup.ErrBadManifest) {
				t.Fatalf("err = %v, want backup.ErrBadManifest", err)
			}
		})
	}
}

// TestFetchRefusesBeforeIO: bad options, a malformed ID or no target
// directory fail with lifeboat.ErrInvalidOptions before the bucket is opened (the
// bucket URL names a directory that does not exist and is not created).
func TestFetchRefusesBeforeIO(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	src := Destination{URL: "file://" + t.TempDir() + "/absent"}
	const stamp = "2020-03-18_220218"
	tests := []struct {
		name    string
		id, dir string
		opts    FetchOptions
	}{
		{name: "zero options", id: stamp, dir: t.TempDir()},
		{name: "no identities", id: stamp, dir: t.TempDir(), opts: FetchOptions{Source: src}},
		{name: "nil identity", id: stamp, dir: t.TempDir(), opts: FetchOptions{Source: src, Identities: []age.Identity{id, nil}}},
		{name: "unknown scheme", id: stamp, dir: t.TempDir(), opts: FetchOptions{Source: Destination{URL: "ftp://x/y"}, Identities: []age.Identity{id}}},
		{name: "escaping id", id: "../../etc", dir: t.TempDir(), opts: FetchOptions{Source: src, Identities: []age.Identity{id}}},
		{name: "id with a slash", id: stamp + "/x", dir: t.TempDir(), opts: FetchOptions{Source: src, Identities: []age.Identity{id}}},
		{name: "no target directory", id: stamp, opts: FetchOptions{Source: src, Identities: []age.Identity{id}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fetch(t.Context(), tc.id, tc.dir, tc.opts)
			if !errors.Is(err, lifeboat.ErrInvalidOptions) {
				t.Fatalf("Fetch = %v, want lifeboat.ErrInvalidOptions", err)
			}
		})
	}
}
