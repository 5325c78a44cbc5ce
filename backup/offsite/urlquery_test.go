package offsite

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/s3blob"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestDestinationRefusesUnknownQueryParams: a query parameter the
// scheme's driver does not accept, or one given twice, is refused by
// validation (UploadOptions.Validate, and so Upload; List; Fetch) before
// anything is opened, with a *lifeboat.OptionsError naming the URL option
// and the parameter; no error quotes a value of the query nor the
// userinfo.
func TestDestinationRefusesUnknownQueryParams(t *testing.T) {
	const secret = "SeCrEtVaLuE"
	key := newTestRecipient(t)
	for _, tc := range []struct {
		url, param string
	}{
		{"s3://bucket?regoin=x", `"regoin"`},
		{"s3://bucket?region=us-east-1&secret_access_key=" + secret, `"secret_access_key"`},
		{"file:///tmp/x?foo=1", `"foo"`},
		{"file:///tmp/x?secret_key_path=/" + secret + "&foo=" + secret, `"foo"`},
		{"azblob://container?account_key=" + secret, `"account_key"`},
		{"gs://bucket?credentials=" + secret, `"credentials"`},
		{"s3://bucket?region=" + secret + "&region=eu-west-1", `"region" 2 times`},
		{"s3://bucket?region=%zz" + secret, "does not parse"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel() // nothing may be opened: the refusal comes first
			_, listErr := List(ctx, Destination{URL: tc.url}, ListOptions{})
			_, fetchErr := Fetch(ctx, "2020-03-18_220218", t.TempDir(), FetchOptions{Source: Destination{URL: tc.url}, Identities: newTestIdentities(t)})
			_, uploadErr := Upload(ctx, t.TempDir(), UploadOptions{Destination: Destination{URL: tc.url, Recipients: []string{key}}})
			cases := []errtest.Option{
				{Name: "List", Err: listErr, Want: "offsite.Destination.URL"},
				{Name: "Fetch", Err: fetchErr, Want: "offsite.FetchOptions.Source.URL"},
				{Name: "Upload", Err: uploadErr, Want: "offsite.UploadOptions.Destination.URL"},
			}
			errtest.OptionNames(t, cases)
			for _, c := range cases {
				if c.Err == nil {
					continue
				}
				msg := c.Err.Error()
				if strings.Contains(msg, secret) {
					t.Errorf("%s: %q quotes a value of the query", c.Name, msg)
				}
				if !strings.Contains(msg, tc.param) {
					t.Errorf("%s: %q does not name %s", c.Name, msg, tc.param)
				}
			}
		})
	}
	u, _ := url.Parse("s3://bucket?regoin=x")
	if err := checkURLQuery(u); err == nil || !strings.Contains(err.Error(), "region") {
		t.Errorf("refusal %v does not list the accepted parameters", err)
	}
	for _, ok := range []string{
		"s3://bucket?endpoint=http://127.0.0.1:8333&region=us-east-1&use_path_style=true",
		"s3://bucket?region=us-east-1&ssetype=aws:kms&kmskeyid=k&s3ForcePathStyle=true",
		"file:///var/backups/etcd?create_dir=1&no_tmp_dir=1",
		"azblob://container?localemu=true&domain=127.0.0.1:10000&protocol=http",
		"gs://bucket?anonymous=true",
	} {
		if err := (&Destination{URL: ok}).validate("offsite.Destination"); err != nil {
			t.Errorf("validate(%q) = %v, want nil", ok, err)
		}
	}
}

// unknownParam matches the drivers' refusal of a query parameter, e.g.
// `unknown query parameter "regoin"` (s3blob, azureblob) or `invalid
// query parameter "foo"` (fileblob, gcsblob).
func unknownParam(name string) *regexp.Regexp {
	return regexp.MustCompile(`(unknown|invalid) query parameter "` + regexp.QuoteMeta(name) + `"`)
}

// TestURLQueryParamsMatchDrivers pins urlQueryParams to the linked
// gocloud.dev drivers: each opens a URL with each listed parameter
// without refusing the parameter (another error, about its value or the
// missing credentials, is fine), and refuses one that is not listed.
// The Azure and Google openers are built here rather than taken from
// blob.DefaultURLMux, whose openers read the environment once per
// process (Azurite's tests set it later) and may ask the GCE metadata
// server.
func TestURLQueryParamsMatchDrivers(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_REGION", "us-east-1")
	dir := t.TempDir()
	noClient := func(azureblob.ServiceURL, azureblob.ContainerName) (*container.Client, error) {
		return nil, errors.New("no client in this test")
	}
	openers := map[string]func(u *url.URL) error{
		"s3":   func(u *url.URL) error { return closeOpened((&s3blob.URLOpener{}).OpenBucketURL(t.Context(), u)) },
		"file": func(u *url.URL) error { return closeOpened((&fileblob.URLOpener{}).OpenBucketURL(t.Context(), u)) },
		"azblob": func(u *url.URL) error {
			return closeOpened((&azureblob.URLOpener{MakeClient: noClient}).OpenBucketURL(t.Context(), u))
		},
		"gs": func(u *url.URL) error { return closeOpened((&gcsblob.URLOpener{}).OpenBucketURL(t.Context(), u)) },
	}
	if len(openers) != len(urlQueryParams) {
		t.Fatalf("urlQueryParams has schemes %v; pin each here", urlQueryParams)
	}
	for scheme, params := range urlQueryParams {
		open := openers[scheme]
		base := scheme + "://bucket"
		if scheme == "file" {
			base = "file://" + filepath.ToSlash(dir)
		}
		for _, p := range append(params, "not_a_parameter") {
			u, err := url.Parse(base + "?" + url.QueryEscape(p) + "=1")
			if err != nil {
				t.Fatal(err)
			}
			err = open(u)
			refused := err != nil && unknownParam(p).MatchString(err.Error())
			if want := p == "not_a_parameter"; refused != want {
				t.Errorf("%s driver with %q: %v; refused %v, want %v", scheme, p, err, refused, want)
			}
		}
	}
}

func closeOpened(b interface{ Close() error }, err error) error {
	if err == nil {
		b.Close()
	}
	return err
}

func newTestRecipient(t *testing.T) string {
	t.Helper()
	return newTestIdentities(t)[0].(*age.X25519Identity).Recipient().String()
}

func newTestIdentities(t *testing.T) []age.Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return []age.Identity{id}
}
