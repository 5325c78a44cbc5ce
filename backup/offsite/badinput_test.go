package offsite

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestDestinationRefusesMisleadingURLs: a URL with no bucket, a file URL
// that is not an absolute clean path, and a URL carrying credentials are
// refused by validation, before anything is opened, with a
// *lifeboat.OptionsError naming the URL option; no error text quotes the
// credentials.
func TestDestinationRefusesMisleadingURLs(t *testing.T) {
	const secret = "SeCrEtKeY"
	var cases []errtest.Option
	for _, u := range []string{
		"s3://",
		"s3:///bucket-as-path",
		"azblob://",
		"file://relative",
		"file://relative/path",
		"file:relative",
		"file:///tmp/../etc",
		"s3://AKIAUSER:" + secret + "@bucket?region=us-east-1",
		"file://user:" + secret + "@/tmp/x",
	} {
		ctx, cancel := context.WithCancel(t.Context())
		cancel() // nothing may be opened: the refusal comes first
		_, err := List(ctx, Destination{URL: u}, ListOptions{})
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("List(%q): error %q quotes the credentials", u, err)
		}
		cases = append(cases, errtest.Option{Name: u, Err: err, Want: "offsite.Destination.URL"})
		upload := UploadOptions{Destination: Destination{URL: u, Recipients: []string{"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}}}
		cases = append(cases, errtest.Option{Name: "upload " + u, Err: upload.Validate(), Want: "offsite.UploadOptions.Destination.URL"})
	}
	errtest.OptionNames(t, cases)
	for _, ok := range []string{"file:///", "file:///var/backups/etcd", "file:///var/backups/etcd/", "s3://bucket?region=us-east-1", "azblob://container"} {
		if err := (&Destination{URL: ok}).validate("offsite.Destination"); err != nil {
			t.Errorf("validate(%q) = %v, want nil", ok, err)
		}
	}
}

// TestParseManifestRefusesRepeatedKeysAndNegativeSizes: a manifest object
// sealed with a valid checksum that gives a key twice (the checksum is of
// the value encoding/json kept, so it still matches) or records a
// negative size is refused with backup.ErrBadManifest.
func TestParseManifestRefusesRepeatedKeysAndNegativeSizes(t *testing.T) {
	m := &Manifest{Format: manifestFormat, Kind: manifestKind, ID: "2020-03-18_220218", Objects: []Object{
		{Role: RoleSnapshot, Name: "snapshot_2020-03-18_220218.db", Key: "2020-03-18_220218/snapshot_2020-03-18_220218.db.zst.age", Codec: CodecZstdAge, Destination: destPrimary, Size: 10, StoredSize: 12},
		{Role: RoleResources, Name: "static_kuberesources_2020-03-18_220218.tar.gz", Key: "2020-03-18_220218/static_kuberesources_2020-03-18_220218.tar.gz.zst.age", Codec: CodecZstdAge, Destination: destPrimary},
	}}
	good, err := m.marshal()
	if err != nil {
		t.Fatal(err)
	}
	// The checksum covers the last "size": a reader keeping the first
	// would see 999.
	repeated := strings.Replace(string(good), `"size": 10,`, `"size": 999, "size": 10,`, 1)
	if repeated == string(good) {
		t.Fatal("test manifest has no size 10")
	}
	neg := *m
	neg.Objects = append([]Object(nil), m.Objects...)
	neg.Objects[0].StoredSize = -1
	sealedNeg, err := neg.marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"repeated key": []byte(repeated), "negative stored size": sealedNeg} {
		if _, err := parseManifest(b); !errors.Is(err, backup.ErrBadManifest) {
			t.Errorf("%s: parseManifest = %v, want backup.ErrBadManifest", name, err)
		}
	}
}
