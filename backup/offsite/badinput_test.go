package offsite

import (
	"context"
	"strings"
	"testing"

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
