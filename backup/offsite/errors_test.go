package offsite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind, distinct (by errors.Is and by text)
// from the others and from the backup family's sentinels offsite returns
// for the failures it shares with a local backup, and survives %w
// wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	own := map[string]error{
		"ErrExists": ErrExists, "ErrMismatch": ErrMismatch, "ErrSourceChanged": ErrSourceChanged, "ErrWrongIdentity": ErrWrongIdentity,
		"ErrStreamNotResumable": ErrStreamNotResumable,
	}
	family := map[string]error{
		"backup.ErrHashMismatch": backup.ErrHashMismatch, "backup.ErrTruncated": backup.ErrTruncated, "backup.ErrBadManifest": backup.ErrBadManifest,
		"backup.ErrMissingFile": backup.ErrMissingFile, "backup.ErrNoHash": backup.ErrNoHash, "backup.ErrInvalidBackup": backup.ErrInvalidBackup,
		"retention.ErrNotFound": retention.ErrNotFound, "retention.ErrNotBackup": retention.ErrNotBackup, "lifeboat.ErrInvalidOptions": lifeboat.ErrInvalidOptions,
	}
	errtest.Sentinels(t, own, family)
}

// TestTypedErrors pins every exported *Error type: found with errors.As
// through a %w wrap, matching its kind and its cause.
func TestTypedErrors(t *testing.T) {
	errtest.TypedErrors(t, []errtest.Typed{
		{Name: "ObjectError truncated", Err: &ObjectError{Op: "verify", Key: "k", Err: fmt.Errorf("%w: short", backup.ErrTruncated)},
			As: errtest.As[*ObjectError], Kinds: []error{backup.ErrTruncated}, Not: []error{backup.ErrHashMismatch, ErrMismatch}},
		{Name: "ObjectError stored mismatch", Err: &ObjectError{Op: "verify", Key: "k", Err: storedMismatch("storage holds %d bytes", 3)},
			As: errtest.As[*ObjectError], Kinds: []error{backup.ErrHashMismatch}, Not: []error{backup.ErrTruncated}},
		{Name: "ObjectError storage", Err: &ObjectError{Op: "open", Key: "k", Err: fs.ErrPermission},
			As: errtest.As[*ObjectError], Kinds: []error{fs.ErrPermission}, Not: []error{backup.ErrMissingFile}},
	})
}

// TestTransient: what storage holds right after an upload may be cured
// by another attempt; a damaged source or a refusal may not.
func TestTransient(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"stored size differs", &ObjectError{Op: "verify", Key: "k", Err: storedMismatch("storage holds 1 bytes, 2 were written")}, true},
		{"snapshot trailer mismatch", &ObjectError{Op: "verify", Key: "k", Err: fmt.Errorf("trailer: %w", backup.ErrHashMismatch)}, false},
		{"source changed", &ObjectError{Op: "verify", Key: "k", Err: ErrSourceChanged}, false},
		{"exists", ErrExists, false},
		{"broken connection", errors.New("connection reset by peer"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(ctx, tc.err); got != tc.want {
				t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// TestValidateRefusesBadOptions produces the one invalid-options kind
// through the options' Validate methods, before any I/O.
func TestValidateRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		validate func() error
	}{
		{"UploadOptions without destination", func() error { return UploadOptions{}.Validate() }},
		{"FetchOptions without identities", func() error { return FetchOptions{}.Validate() }},
		{"StreamOptions without host", func() error { return StreamOptions{}.Validate() }},
		{"ScrubOptions with a bad ID", func() error { return ScrubOptions{IDs: []string{"x"}}.Validate() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var oe *lifeboat.OptionsError
			if err := tc.validate(); !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) {
				t.Fatalf("Validate = %v, want a *lifeboat.OptionsError", err)
			}
		})
	}
}

// TestOptionsErrorNamesTheOption: each refusal names the option, field or
// argument at fault, qualified by the struct the caller filled in (a
// destination's fields under the option that holds it).
func TestOptionsErrorNamesTheOption(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := id.Recipient().String()
	dest := Destination{URL: "file://" + t.TempDir() + "/absent", Recipients: []string{key}}
	const stamp = "2020-03-18_220218"
	upload := func(mutate func(*UploadOptions)) error {
		o := UploadOptions{Destination: dest}
		mutate(&o)
		return o.Validate()
	}
	fetch := FetchOptions{Source: dest, Identities: []age.Identity{id}}
	h := host.NewLocal("master-0", t.TempDir(), host.LocalOptions{})
	stream := func(mutate func(*StreamOptions)) error {
		o := StreamOptions{Destination: dest, Host: h, Force: true}
		mutate(&o)
		return o.Validate()
	}
	call := func(_ any, err error) error { return err }
	var nilSource *RestoreSource
	errtest.OptionNames(t, []errtest.Option{
		{Name: "no recipient", Err: upload(func(o *UploadOptions) { o.Destination.Recipients = nil }), Want: "offsite.UploadOptions.Destination.Recipients"},
		{Name: "identity as recipient", Err: upload(func(o *UploadOptions) { o.Destination.Recipients = []string{id.String()} }), Want: "offsite.UploadOptions.Destination.Recipients"},
		{Name: "resources recipients", Err: upload(func(o *UploadOptions) { o.Resources = &Destination{URL: dest.URL} }), Want: "offsite.UploadOptions.Resources.Recipients"},
		{Name: "no URL", Err: upload(func(o *UploadOptions) { o.Destination.URL = "" }), Want: "offsite.UploadOptions.Destination"},
		{Name: "unknown scheme", Err: upload(func(o *UploadOptions) { o.Destination.URL = "ftp://x/y" }), Want: "offsite.UploadOptions.Destination.URL"},
		{Name: "escaping prefix", Err: upload(func(o *UploadOptions) { o.Destination.Prefix = "../x" }), Want: "offsite.UploadOptions.Destination.Prefix"},
		{Name: "resources prefix", Err: upload(func(o *UploadOptions) { o.Resources = &Destination{URL: "ftp://x", Recipients: []string{key}} }), Want: "offsite.UploadOptions.Resources.URL"},
		{Name: "resources prefix without bucket", Err: upload(func(o *UploadOptions) { o.Resources = &Destination{Prefix: "keys", Recipients: []string{key}} }), Want: "offsite.UploadOptions.Resources"},
		{Name: "zstd level", Err: upload(func(o *UploadOptions) { o.ZstdLevel = 23 }), Want: "offsite.UploadOptions.ZstdLevel"},
		{Name: "part size", Err: upload(func(o *UploadOptions) { o.PartSize = -1 }), Want: "offsite.UploadOptions.PartSize"},
		{Name: "retries", Err: upload(func(o *UploadOptions) { o.Retry.MaxAttempts = -1 }), Want: "offsite.UploadOptions.Retry.MaxAttempts"},
		{Name: "retry interval", Err: upload(func(o *UploadOptions) { o.Retry.MaxInterval = -1 }), Want: "offsite.UploadOptions.Retry.MaxInterval"},
		{Name: "stream without host", Err: stream(func(o *StreamOptions) { o.Host = nil }), Want: "offsite.StreamOptions.Host"},
		{Name: "stream without config", Err: stream(func(o *StreamOptions) { o.Force = false }), Want: "offsite.StreamOptions.Config"},
		{Name: "stream concurrency", Err: stream(func(o *StreamOptions) { o.Concurrency = -1 }), Want: "offsite.StreamOptions.Concurrency"},
		{Name: "stream destination", Err: stream(func(o *StreamOptions) { o.Destination.URL = "ftp://x" }), Want: "offsite.StreamOptions.Destination.URL"},
		{Name: "stream zstd level", Err: stream(func(o *StreamOptions) { o.ZstdLevel = 23 }), Want: "offsite.StreamOptions.ZstdLevel"},
		{Name: "stream plan without etcd", Err: call(StreamPlan(StreamDeps{}, StreamOptions{Destination: dest, Host: h, Force: true})), Want: "offsite.StreamDeps.Etcd"},
		{Name: "stream without etcd", Err: call(Stream(t.Context(), nil, StreamOptions{Destination: dest, Host: h, Force: true})), Want: "offsite.Stream etcd"},
		{Name: "fetch without identities", Err: (&FetchOptions{Source: dest}).Validate(), Want: "offsite.FetchOptions.Identities"},
		{Name: "fetch nil identity", Err: (&FetchOptions{Source: dest, Identities: []age.Identity{id, nil}}).Validate(), Want: "offsite.FetchOptions.Identities"},
		{Name: "fetch source", Err: (&FetchOptions{Identities: []age.Identity{id}}).Validate(), Want: "offsite.FetchOptions.Source"},
		{Name: "fetch retries", Err: (&FetchOptions{Source: dest, Identities: []age.Identity{id}, Retry: RetryOptions{InitialInterval: -1}}).Validate(), Want: "offsite.FetchOptions.Retry.InitialInterval"},
		{Name: "fetch id", Err: call(Fetch(t.Context(), "../../etc", t.TempDir(), fetch)), Want: "offsite.Fetch id"},
		{Name: "fetch dir", Err: call(Fetch(t.Context(), stamp, "", fetch)), Want: "offsite.Fetch dir"},
		{Name: "verify id", Err: call(Verify(t.Context(), "x", t.TempDir(), fetch)), Want: "offsite.Verify id"},
		{Name: "nil RestoreSource", Err: nilSource.Validate(), Want: "offsite.RestoreSource"},
		{Name: "restore source id", Err: (&RestoreSource{ID: "x", Options: fetch}).Validate(), Want: "offsite.RestoreSource.ID"},
		{Name: "restore source options", Err: (&RestoreSource{ID: stamp, Options: FetchOptions{Source: dest}}).Validate(), Want: "offsite.RestoreSource.Options.Identities"},
		{Name: "scrub ids", Err: (&ScrubOptions{IDs: []string{"x"}}).Validate(), Want: "offsite.ScrubOptions.IDs"},
		{Name: "scrub nil identity", Err: (&ScrubOptions{Identities: []age.Identity{nil}}).Validate(), Want: "offsite.ScrubOptions.Identities"},
		{Name: "scrub resources", Err: (&ScrubOptions{Resources: &Destination{URL: "ftp://x"}}).Validate(), Want: "offsite.ScrubOptions.Resources.URL"},
		{Name: "scrub destination", Err: call(Scrub(t.Context(), Destination{}, ScrubOptions{})), Want: "offsite.Destination"},
		{Name: "list destination", Err: call(List(t.Context(), Destination{URL: "ftp://x"}, ListOptions{})), Want: "offsite.Destination.URL"},
		{Name: "retention store destination", Err: (&RetentionStore{}).Delete(t.Context(), stamp), Want: "offsite.RetentionStore.Destination"},
		{Name: "identities", Err: call(ParseIdentities([]byte("not a key"))), Want: "offsite.ParseIdentities data"},
	})
}
