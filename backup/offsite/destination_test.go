package offsite

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat"
)

// A scheme offsite supports but does not link is refused before any I/O,
// with the import that would make it work; an unknown scheme lists the
// schemes the program has.
func TestDestinationNamesMissingDriver(t *testing.T) {
	mux := new(blob.URLMux) // no driver registered, as in a program that links none
	for _, tc := range []struct {
		name, url, want string
	}{
		{"azblob", "azblob://backups", `import _ "gocloud.dev/blob/azureblob"`},
		{"gs", "gs://backups", `import _ "gocloud.dev/blob/gcsblob"`},
		{"unknown scheme", "ftp://backups", "is not one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Destination{URL: tc.url}
			err := d.validateIn(mux, "offsite.UploadOptions.Destination")
			var oe *lifeboat.OptionsError
			if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
				t.Fatalf("validate %s: got %v, want a *lifeboat.OptionsError", tc.url, err)
			}
			if oe.Option != "offsite.UploadOptions.Destination.URL" {
				t.Errorf("validate %s: Option = %q, want the URL's", tc.url, oe.Option)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate %s: %q does not say %q", tc.url, err, tc.want)
			}
		})
	}
}

// offsite links the S3 and file drivers only: the Azure and Google Cloud
// SDKs cost every importing process about 10 MiB of resident memory each,
// so they are linked only by programs that import their drivers.
func TestOffsiteLinksNoCloudSDKBeyondS3(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped in -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{"gocloud.dev/blob/azureblob", "gocloud.dev/blob/gcsblob", "github.com/Azure/azure-sdk-for-go/", "cloud.google.com/go/storage"} {
			if strings.HasPrefix(dep, heavy) {
				t.Errorf("backup/offsite links %s", dep)
			}
		}
	}
}
