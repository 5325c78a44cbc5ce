package offsite

import (
	"cmp"
	"io"
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// DefaultZstdLevel is the zstd level used when UploadOptions.ZstdLevel is
// 0: level 1, klauspost/compress's fastest encoder. On etcd's content it
// stores about 7% more than level 3 (ratio 2.86 against 3.07 on
// hack/bench-offsite.sh's 1.1 GiB data set) for about a quarter less CPU
// and 18 MiB less memory, which keeps an off-site backup about as fast as
// "etcdctl snapshot save" to local disk on a busy master. Choose 3 or
// more where storage costs more than the backup's time and memory.
const DefaultZstdLevel = 1

// NoCompression as UploadOptions.ZstdLevel (or StreamOptions.ZstdLevel)
// stores every object age-encrypted but not compressed: codec "age", key
// "<id>/<name>.age", StoredSize a little over Size. For data that does
// not compress (an etcd holding encrypted secrets) it saves the
// encoder's CPU and memory. Named after compress/flate's NoCompression.
const NoCompression = -1

// UploadOptions configure Upload. Destination (with its Recipients) is
// required; every other zero value is documented on its field.
type UploadOptions struct {
	// Destination receives the snapshot, the manifest, and (unless
	// Resources says otherwise) the static resources archive.
	Destination Destination
	// Resources, when not nil, sends static_kuberesources (it holds the
	// etcd encryption keys) elsewhere: to its bucket (or, with neither URL
	// nor Bucket, to Destination's bucket and prefix) encrypted to its own
	// Recipients. The runbook advises keeping it apart from the snapshot.
	// The manifest is written to both buckets, there first.
	Resources *Destination
	// ZstdLevel is the zstd level (1 fastest … 22 smallest, mapped to
	// klauspost/compress's four encoder levels); 0 means DefaultZstdLevel,
	// NoCompression (-1) stores age-encrypted plaintext (codec "age", key
	// "<id>/<name>.age"). Validate refuses anything else.
	ZstdLevel int
	// Timestamp chooses the local backup when dir holds several (see
	// backup.VerifyOptions.Timestamp).
	Timestamp string
	// SkipDBCheck skips the bolt check of backup.Verify before the
	// upload (the sha256 trailer is still checked, twice).
	SkipDBCheck bool
	// ReadBack re-reads every stored object after its upload and checks
	// its sha256: it doubles the transfer, and proves the bytes at rest
	// rather than the bytes handed to the storage client (whose transport
	// checksums cover the transfer). Off by default.
	ReadBack bool
	// Retry bounds the attempts per object.
	Retry RetryOptions
	// PartSize is the size of the parts of a multipart upload in bytes;
	// 0 means DefaultS3PartSize for S3 and the driver's default
	// elsewhere. S3 refuses parts under 5 MiB (but the last).
	PartSize int
	// Now is the clock for the manifest's uploadedAt; nil means time.Now.
	Now func() time.Time
	// Logger receives the procedure's records (never a key nor a URL's
	// query); nil discards them.
	Logger *slog.Logger
}

// RetryOptions bound the retries of a transient storage failure (a 5xx,
// a throttling answer, a reset connection): each attempt restarts the
// object from its first byte, after an exponential backoff with jitter.
type RetryOptions struct {
	// MaxAttempts per object; 0 means 5, 1 disables retries.
	MaxAttempts int
	// InitialInterval is the first wait; 0 means 1 s. MaxInterval caps
	// the waits; 0 means 30 s.
	InitialInterval, MaxInterval time.Duration
}

func (r RetryOptions) withDefaults() RetryOptions {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 5
	}
	if r.InitialInterval == 0 {
		r.InitialInterval = time.Second
	}
	if r.MaxInterval == 0 {
		r.MaxInterval = 30 * time.Second
	}
	return r
}

// validate checks r; option names it in the errors (e.g.
// "offsite.UploadOptions.Retry").
func (r RetryOptions) validate(option string) error {
	return cmp.Or(
		opterr.Negative(option+".MaxAttempts", r.MaxAttempts),
		opterr.Negative(option+".InitialInterval", r.InitialInterval),
		opterr.Negative(option+".MaxInterval", r.MaxInterval),
	)
}

// Validate checks the options without any I/O; errors are a
// *lifeboat.OptionsError (lifeboat.ErrInvalidOptions) naming the field,
// e.g. "offsite.UploadOptions.Destination.URL". Upload calls it first.
func (o UploadOptions) Validate() error {
	return o.validate("offsite.UploadOptions")
}

// validate is Validate naming the options option (the struct the caller
// filled in: UploadOptions, or StreamOptions whose fields these are).
func (o UploadOptions) validate(option string) error {
	_, _, err := o.recipients(option)
	if err != nil {
		return err
	}
	if err := o.Destination.validate(option + ".Destination"); err != nil {
		return err
	}
	if o.Resources.set() {
		if err := o.Resources.validate(option + ".Resources"); err != nil {
			return err
		}
	} else if o.Resources != nil && o.Resources.Prefix != "" {
		return opterr.New(option+".Resources", "a Prefix needs its own URL or Bucket")
	}
	if o.ZstdLevel != NoCompression && (o.ZstdLevel < 0 || o.ZstdLevel > 22) {
		return opterr.New(option+".ZstdLevel", "%d is out of range (1–22, 0 for DefaultZstdLevel %d, NoCompression %d)", o.ZstdLevel, DefaultZstdLevel, NoCompression)
	}
	return cmp.Or(opterr.Negative(option+".PartSize", o.PartSize), o.Retry.validate(option+".Retry"))
}

// recipients parses the snapshot's and the archive's recipients; option
// names the options in the errors, as in validate.
func (o UploadOptions) recipients(option string) (snap, res *parsedRecipients, err error) {
	snap, err = parseRecipients(option+".Destination.Recipients", o.Destination.Recipients)
	if err != nil {
		return nil, nil, err
	}
	res = snap
	if o.Resources != nil {
		res, err = parseRecipients(option+".Resources.Recipients", o.Resources.Recipients)
		if err != nil {
			return nil, nil, err
		}
	}
	return snap, res, nil
}

// FetchOptions configure Fetch. Source and Identities are required.
type FetchOptions struct {
	// Source is the destination the backup was uploaded to (its
	// Recipients are ignored).
	Source Destination
	// Resources is where the archive is when the manifest says it went to
	// the resources destination; nil means Source.
	Resources *Destination
	// Identities open the objects (see ParseIdentities); the snapshot and
	// the archive may need different ones: every identity is tried on
	// each object.
	Identities []age.Identity
	// SkipDBCheck skips the bolt check of the fetched snapshot (the
	// sha256 checks and the etcd trailer are always done).
	SkipDBCheck bool
	// Retry bounds the attempts per object when a download fails on a
	// transient storage error (a broken connection, a 5xx): the object
	// starts again from its first byte. An object that fails its checks
	// is never retried.
	Retry RetryOptions
	// Logger receives the procedure's records; nil discards them.
	Logger *slog.Logger
}

// Validate checks the options without any I/O; errors are a
// *lifeboat.OptionsError (lifeboat.ErrInvalidOptions) naming the field,
// e.g. "offsite.FetchOptions.Identities". Fetch and Verify call it first.
func (o FetchOptions) Validate() error {
	return o.validate("offsite.FetchOptions")
}

// validate is Validate naming the options option (the struct the caller
// filled in: FetchOptions, or the RestoreSource field holding them).
func (o FetchOptions) validate(option string) error {
	if err := o.Source.validate(option + ".Source"); err != nil {
		return err
	}
	if o.Resources != nil {
		if err := o.Resources.validate(option + ".Resources"); err != nil {
			return err
		}
	}
	if len(o.Identities) == 0 {
		return opterr.New(option+".Identities", "is required (no identity to decrypt with)")
	}
	if err := o.Retry.validate(option + ".Retry"); err != nil {
		return err
	}
	for i, id := range o.Identities {
		if id == nil {
			return opterr.New(option+".Identities", "[%d] is nil", i)
		}
	}
	return nil
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l
}

func now(f func() time.Time) time.Time {
	if f == nil {
		return time.Now()
	}
	return f()
}

// idOf is the ID of a local backup: its stamp, with the dirty marker.
func idOf(b *backup.Backup) string {
	if b.PossiblyDirty {
		return b.Timestamp + backup.DirtyMarker
	}
	return b.Timestamp
}
