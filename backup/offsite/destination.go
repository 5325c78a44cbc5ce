package offsite

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"gocloud.dev/blob"
	// The drivers every program that imports offsite can open by URL. The
	// Azure and Google Cloud drivers are the application's choice (see
	// Destination): each links its cloud's SDK, about 10 MiB of resident
	// memory in every process that imports it, used or not.
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob"
)

// optionalDrivers names the gocloud.dev/blob driver package of each URL
// scheme offsite supports but does not link itself.
var optionalDrivers = map[string]string{
	"azblob": "gocloud.dev/blob/azureblob",
	"gs":     "gocloud.dev/blob/gcsblob",
}

// Destination is a place backups are stored: a bucket, a prefix in it,
// and (for uploads) the recipients objects are encrypted to.
//
// s3:// (AWS S3 and S3-compatible servers) and file:// work in every
// program that imports offsite. azblob:// and gs:// work once the program
// links their gocloud.dev driver, as gocloud.dev/blob documents for every
// driver:
//
//	import _ "gocloud.dev/blob/azureblob" // azblob://
//	import _ "gocloud.dev/blob/gcsblob"   // gs://
//
// Without it, a Destination with such a URL fails validation with
// lifeboat.ErrInvalidOptions naming the import, before anything is read or written.
//
// Credentials come only from the destination's standard sources, never
// from lifeboat: for s3:// the AWS SDK's chain (AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, web identity,
// instance roles); for azblob:// AZURE_STORAGE_ACCOUNT with
// AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN or a connection string, else
// azidentity's default chain (workload identity included); for gs://
// Application Default Credentials.
type Destination struct {
	// URL opens the bucket with gocloud.dev/blob.OpenBucket, e.g.
	//   s3://bucket?region=us-east-1
	//   s3://bucket?endpoint=http://127.0.0.1:8333&region=us-east-1&use_path_style=true
	//   azblob://container   gs://bucket   file:///var/backups/etcd
	// (see each driver's URL parameters). A query parameter its driver
	// does not accept (s3://bucket?regoin=x), or one given twice, fails
	// validation, before anything is opened, with a *lifeboat.OptionsError
	// naming the parameter and those accepted, never a value. It is never
	// logged nor put in errors with its query. Ignored when Bucket is set.
	URL string
	// Bucket, when not nil, is used instead of URL; the caller keeps it
	// and closes it.
	Bucket *blob.Bucket
	// Prefix is prepended to every key ("clusters/prod" stores backups
	// under clusters/prod/<id>/); "" means the bucket's root. No leading
	// slash, no "." or ".." elements.
	Prefix string
	// Recipients are the age X25519 ("age1…") or SSH ("ssh-ed25519 …",
	// "ssh-rsa …") public keys uploads encrypt to; at least one for an
	// upload, ignored by Fetch and List.
	Recipients []string
}

// set reports whether d names a bucket.
func (d *Destination) set() bool { return d != nil && (d.Bucket != nil || d.URL != "") }

// validate checks d without opening it. option names d in the errors,
// qualified by the struct the caller filled in (e.g.
// "offsite.UploadOptions.Destination"; "offsite.Destination" for an
// argument).
func (d *Destination) validate(option string) error {
	return d.validateIn(blob.DefaultURLMux(), option)
}

// validateIn is validate with the schemes mux knows.
func (d *Destination) validateIn(mux *blob.URLMux, option string) error {
	if !d.set() {
		return opterr.New(option, "URL or Bucket is required")
	}
	if d.Bucket == nil {
		// The URL is not quoted: its query may carry parameters a
		// caller considers private.
		u, err := url.Parse(d.URL)
		if err != nil {
			return opterr.New(option+".URL", "does not parse")
		}
		if !mux.ValidBucketScheme(u.Scheme) {
			if pkg, ok := optionalDrivers[u.Scheme]; ok {
				return opterr.New(option+".URL", "scheme %q needs its driver linked into this program: import _ %q", u.Scheme, pkg)
			}
			return opterr.New(option+".URL", "scheme %q is not one of %v", u.Scheme, mux.BucketSchemes())
		}
		if err := checkURLShape(u); err != nil {
			return opterr.New(option+".URL", "%w", err)
		}
		if err := checkURLQuery(u); err != nil {
			return opterr.New(option+".URL", "%w", err)
		}
	}
	if p := d.Prefix; p != "" {
		if strings.HasPrefix(p, "/") || path.Clean(p) != strings.TrimSuffix(p, "/") || strings.HasPrefix(path.Clean(p), "..") || path.Clean(p) == "." {
			return opterr.New(option+".Prefix", "%q must be a relative, clean path", p)
		}
	}
	return nil
}

// checkURLShape refuses a bucket URL the drivers would open as something
// else than the caller meant, before anything is opened: credentials in
// it (the drivers ignore them; they come from the destination's standard
// sources), no bucket name ("s3://", "s3:///x"), and a file:// URL
// without an absolute, clean path ("file://relative" and "file:relative"
// open the working directory or "/"; "file:///a/../b" is not where it
// seems). The errors never quote the URL.
func checkURLShape(u *url.URL) error {
	switch {
	case u.User != nil:
		return errors.New("carries user information (user:password@); credentials come from the destination's standard sources, never from the URL")
	case u.Opaque != "":
		return fmt.Errorf("is not of the form %s://...", u.Scheme)
	case u.Scheme == "file":
		if u.Host != "" || !path.IsAbs(u.Path) || path.Clean(u.Path) != strings.TrimSuffix(u.Path, "/") && u.Path != "/" {
			return errors.New("a file URL names an absolute, clean directory: file:///dir")
		}
	case u.Host == "":
		return fmt.Errorf("names no bucket: %s://<bucket>", u.Scheme)
	}
	return nil
}

// String names the destination for logs and errors: scheme, host and
// path of the URL, never its query (which may carry parameters a caller
// considers private), plus the prefix.
func (d *Destination) String() string {
	if d == nil {
		return "<none>"
	}
	s := "<bucket>"
	if d.Bucket == nil {
		s = redactURL(d.URL)
	}
	if d.Prefix != "" {
		s += " prefix " + d.Prefix
	}
	return s
}

// redactURL keeps scheme, host and path of a URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// open returns the bucket under d's prefix and a function that closes
// what open opened.
func (d *Destination) open(ctx context.Context) (*blob.Bucket, func(), error) {
	b, own := d.Bucket, false
	if b == nil {
		var err error
		b, err = blob.OpenBucket(ctx, d.URL)
		if err != nil {
			// The driver's error may quote the URL: keep only its kind.
			return nil, nil, fmt.Errorf("offsite: opening %s: %w", d, sanitize(err, d.URL))
		}
		own = true
	}
	pb := b
	if d.Prefix != "" {
		pb = blob.PrefixedBucket(b, strings.TrimSuffix(d.Prefix, "/")+"/")
	}
	closeFn := func() {
		if d.Prefix != "" {
			pb.Close()
		}
		if own {
			b.Close()
		}
	}
	return pb, closeFn, nil
}

// sanitize replaces a URL's query in an error's text.
func sanitize(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || u.RawQuery == "" || !strings.Contains(err.Error(), u.RawQuery) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), u.RawQuery, "<redacted>"), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// openBuckets opens the primary destination and the resources one (the
// primary again when resources is not set), and says which of them holds
// the static pod resources (destPrimary or DestResources). closeFn closes
// what it opened.
func openBuckets(ctx context.Context, primary, resources *Destination) (p, res *blob.Bucket, resDest string, closeFn func(), err error) {
	p, closePrimary, err := primary.open(ctx)
	if err != nil {
		return nil, nil, "", nil, err
	}
	if !resources.set() {
		return p, p, destPrimary, closePrimary, nil
	}
	res, closeRes, err := resources.open(ctx)
	if err != nil {
		closePrimary()
		return nil, nil, "", nil, err
	}
	return p, res, DestResources, func() { closeRes(); closePrimary() }, nil
}
