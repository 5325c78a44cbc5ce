package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"filippo.io/age"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// ScrubStatus is the verdict on one backup or object.
type ScrubStatus string

// Scrub verdicts, from best to worst.
const (
	// ScrubOK: every check passed.
	ScrubOK ScrubStatus = "ok"
	// ScrubSkipped: not checked (an object at the resources destination
	// when ScrubOptions.Resources is not set).
	ScrubSkipped ScrubStatus = "skipped"
	// ScrubFailed: the check could not be made (a storage error, no
	// identity opens the object); the backup may be intact.
	ScrubFailed ScrubStatus = "failed"
	// ScrubMissing: an object of the backup is gone
	// (backup.ErrMissingFile).
	ScrubMissing ScrubStatus = "missing"
	// ScrubCorrupt: the manifest or an object is damaged, truncated or
	// replaced (backup.ErrBadManifest, backup.ErrHashMismatch,
	// backup.ErrTruncated, ErrMismatch).
	ScrubCorrupt ScrubStatus = "corrupt"
)

// rank orders the verdicts; a backup takes its worst object's.
func (s ScrubStatus) rank() int {
	return slices.Index([]ScrubStatus{ScrubOK, ScrubSkipped, ScrubFailed, ScrubMissing, ScrubCorrupt}, s)
}

// ScrubOptions configure Scrub. The zero value checks every backup at the
// destination without keys.
type ScrubOptions struct {
	// Resources is where archives stored at the resources destination are
	// (see UploadOptions.Resources); nil: those objects are ScrubSkipped.
	Resources *Destination
	// Identities, when set, make the check complete: each object is also
	// decrypted and decompressed, and its plaintext size and sha256 and the
	// snapshot's etcd sha256 trailer are checked, as Fetch does, without
	// writing anything (the bolt check of backup.Verify is left out: Fetch
	// does it). Without them every stored byte is still read and checked
	// against the manifest's stored size and sha256, which the upload
	// computed over the bytes it wrote.
	Identities []age.Identity
	// IDs limits the scrub to these backups (Listed.ID); empty means every
	// backup listed. An ID without a manifest is reported ScrubMissing.
	IDs []string
	// Now is the clock for the report's times; nil means time.Now.
	Now func() time.Time
	// Logger receives a record per backup (never a key nor a URL's query);
	// nil discards them.
	Logger *slog.Logger
}

// Validate checks the options without any I/O; errors are a
// *lifeboat.OptionsError (lifeboat.ErrInvalidOptions) naming the field,
// e.g. "offsite.ScrubOptions.IDs". Scrub calls it first.
func (o ScrubOptions) Validate() error {
	if o.Resources != nil {
		if err := o.Resources.validate("offsite.ScrubOptions.Resources"); err != nil {
			return err
		}
	}
	for i, id := range o.Identities {
		if id == nil {
			return opterr.New("offsite.ScrubOptions.Identities", "[%d] is nil", i)
		}
	}
	for _, id := range o.IDs {
		if !idRE.MatchString(id) {
			return opterr.New("offsite.ScrubOptions.IDs", "%q is not a backup stamp (YYYY-MM-DD_HHMMSS)", id)
		}
	}
	return nil
}

// ScrubbedObject is the verdict on one object.
type ScrubbedObject struct {
	// Role, Name and Key are the manifest's (Key relative to its
	// destination's prefix).
	Role, Name, Key string
	Status          ScrubStatus
	// Err is why the status is not ScrubOK nor ScrubSkipped: an
	// *ObjectError wrapping backup.ErrMissingFile, backup.ErrHashMismatch,
	// backup.ErrTruncated, ErrMismatch, ErrWrongIdentity or a storage
	// error.
	Err error
	// Bytes is the number of stored bytes read.
	Bytes int64
}

// ScrubbedBackup is the verdict on one backup: its worst object's, or
// ScrubCorrupt for a manifest that fails its checks (no objects then).
type ScrubbedBackup struct {
	ID       string
	Status   ScrubStatus
	Manifest *Manifest
	Objects  []ScrubbedObject
	// Err joins the objects' errors (or is the manifest's); nil when Status
	// is ScrubOK or ScrubSkipped.
	Err error
}

// ScrubReport is what Scrub found.
type ScrubReport struct {
	// Started and Finished bound the scrub (ScrubOptions.Now).
	Started, Finished time.Time
	// Full is true when the objects were decrypted and decompressed too
	// (ScrubOptions.Identities).
	Full bool
	// Backups, oldest first.
	Backups []ScrubbedBackup
	// OK, Corrupt, Missing and Failed count Backups by status (a backup
	// whose objects were all skipped counts as OK).
	OK, Corrupt, Missing, Failed int
	// Bytes is the number of stored bytes read.
	Bytes int64
}

// Err is nil when every backup is OK, else an error joining each bad
// backup's (errors.Is finds the sentinels).
func (r *ScrubReport) Err() error {
	var errs []error
	for _, b := range r.Backups {
		if b.Err != nil {
			errs = append(errs, fmt.Errorf("backup %s %s: %w", b.ID, b.Status, b.Err))
		}
	}
	return errors.Join(errs...)
}

// Scrub re-reads every lifeboat backup at dest (those with a manifest,
// found as List finds them; other objects are ignored) and checks every
// stored byte against the manifest, so that corruption at rest is found on
// a schedule rather than on the day of the restore. For each object it
// checks, in order: presence (backup.ErrMissingFile), the lifeboat metadata
// (ErrMismatch), the stored size (backup.ErrTruncated,
// backup.ErrHashMismatch), then reads the whole object once for the stored
// sha256 (backup.ErrHashMismatch; damage in the first HeadSize bytes is
// told from another object put in its place, ErrMismatch, with Identities).
// With Identities, the same read also decrypts, decompresses and checks
// what Fetch checks (see ScrubOptions.Identities). Nothing is written.
//
// The verdicts are in the report (see ScrubReport.Err); the error is for
// the scrub itself: lifeboat.ErrInvalidOptions before any I/O, a listing
// that fails, or ctx's error (the report then holds the backups done).
func Scrub(ctx context.Context, dest Destination, opts ScrubOptions) (*ScrubReport, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := dest.validate("offsite.Destination"); err != nil {
		return nil, err
	}
	log := logger(opts.Logger)
	rep := &ScrubReport{Started: now(opts.Now), Full: len(opts.Identities) > 0}
	bucket, closeFn, err := dest.open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	var resBucket *blob.Bucket
	if opts.Resources != nil {
		rb, closeRes, err := opts.Resources.open(ctx)
		if err != nil {
			return nil, err
		}
		defer closeRes()
		resBucket = rb
	}
	listed, err := List(ctx, dest, ListOptions{})
	if err != nil {
		return nil, err
	}
	if len(opts.IDs) > 0 {
		var sel []Listed
		for _, id := range opts.IDs {
			i := slices.IndexFunc(listed, func(l Listed) bool { return l.ID == id })
			if i < 0 {
				sel = append(sel, Listed{ID: id, Err: &ObjectError{Op: "open", Key: manifestKey(id), Err: fmt.Errorf("%w: no manifest", retention.ErrNotFound)}})
				continue
			}
			sel = append(sel, listed[i])
		}
		listed = sel
	}
	for _, l := range listed {
		if err := ctx.Err(); err != nil {
			rep.Finished = now(opts.Now)
			return rep, err
		}
		sb := ScrubbedBackup{ID: l.ID, Manifest: l.Manifest}
		switch {
		case l.Err != nil && (errors.Is(l.Err, retention.ErrNotFound) || errors.Is(l.Err, backup.ErrMissingFile)):
			sb.Status, sb.Err = ScrubMissing, l.Err
		case l.Err != nil && errors.Is(l.Err, backup.ErrBadManifest):
			sb.Status, sb.Err = ScrubCorrupt, l.Err
		case l.Err != nil:
			sb.Status, sb.Err = ScrubFailed, l.Err
		default:
			sb.Status = ScrubOK
			var errs []error
			for i := range l.Manifest.Objects {
				o := &l.Manifest.Objects[i]
				b := bucket
				if o.Destination == DestResources {
					b = resBucket
				}
				so := ScrubbedObject{Role: o.Role, Name: o.Name, Key: o.Key, Status: ScrubSkipped}
				if b != nil {
					so = scrubObject(ctx, b, l.Manifest, o, opts)
				}
				if ctx.Err() != nil {
					rep.Finished = now(opts.Now)
					return rep, ctx.Err()
				}
				rep.Bytes += so.Bytes
				if so.Status.rank() > sb.Status.rank() {
					sb.Status = so.Status
				}
				if so.Err != nil {
					errs = append(errs, so.Err)
				}
				sb.Objects = append(sb.Objects, so)
			}
			sb.Err = errors.Join(errs...)
		}
		switch sb.Status {
		case ScrubOK, ScrubSkipped:
			rep.OK++
			log.Info("backup scrubbed", "id", sb.ID, "status", sb.Status)
		case ScrubCorrupt:
			rep.Corrupt++
		case ScrubMissing:
			rep.Missing++
		default:
			rep.Failed++
		}
		if sb.Err != nil {
			log.Error("backup scrubbed", "id", sb.ID, "status", sb.Status, "err", sb.Err)
		}
		rep.Backups = append(rep.Backups, sb)
	}
	rep.Finished = now(opts.Now)
	log.Info("scrub finished", "destination", dest.String(), "backups", len(rep.Backups), "ok", rep.OK, "corrupt", rep.Corrupt, "missing", rep.Missing, "failed", rep.Failed, "bytes", rep.Bytes)
	return rep, nil
}

// scrubObject checks one object (see Scrub).
func scrubObject(ctx context.Context, b *blob.Bucket, m *Manifest, o *Object, opts ScrubOptions) ScrubbedObject {
	so := ScrubbedObject{Role: o.Role, Name: o.Name, Key: o.Key, Status: ScrubOK}
	verdict := func(err error) ScrubbedObject {
		so.Err = err
		switch {
		case errors.Is(err, backup.ErrMissingFile):
			so.Status = ScrubMissing
		case errors.Is(err, backup.ErrHashMismatch), errors.Is(err, backup.ErrTruncated), errors.Is(err, backup.ErrNoHash), errors.Is(err, ErrMismatch):
			so.Status = ScrubCorrupt
		default:
			so.Status = ScrubFailed
		}
		return so
	}
	if len(opts.Identities) > 0 {
		s, err := openStream(ctx, b, m, o, opts.Identities)
		if err != nil {
			return verdict(missing(err))
		}
		defer s.close()
		err = s.verifyInto(ctx, io.Discard, "", "scrubbing "+o.Key, 1)
		so.Bytes = s.n.n
		if err != nil {
			return verdict(err)
		}
		return so
	}
	fail := func(op string, err error) ScrubbedObject { return verdict(&ObjectError{Op: op, Key: o.Key, Err: err}) }
	attrs, err := b.Attributes(ctx, o.Key)
	if err != nil {
		return verdict(missing(&ObjectError{Op: "open", Key: o.Key, Err: err}))
	}
	for k, want := range map[string]string{metaID: m.ID, metaName: o.Name, metaSHA256: o.SHA256} {
		if got, ok := attrs.Metadata[k]; ok && got != want {
			return fail("verify", fmt.Errorf("%w: its %s is %q, the manifest's %q", ErrMismatch, k, got, want))
		}
	}
	if attrs.Size != o.StoredSize {
		// A truncated object keeps its first bytes; one of another size
		// whose first bytes differ was replaced or damaged there too.
		hr, err := b.NewRangeReader(ctx, o.Key, 0, HeadSize, nil)
		if err != nil {
			return verdict(missing(&ObjectError{Op: "open", Key: o.Key, Err: err}))
		}
		hd := &head{}
		_, err = io.Copy(hd, hr)
		hr.Close()
		if err != nil {
			return fail("download", err)
		}
		same := hd.sum() == o.HeadSHA256
		switch {
		case attrs.Size < o.StoredSize && (same || attrs.Size < HeadSize):
			return fail("verify", fmt.Errorf("%w: %d of %d bytes", backup.ErrTruncated, attrs.Size, o.StoredSize))
		case same:
			return fail("verify", fmt.Errorf("%w: %d bytes, the manifest records %d", backup.ErrHashMismatch, attrs.Size, o.StoredSize))
		default:
			return fail("verify", fmt.Errorf("%w: %d bytes, the manifest records %d, and its first %d bytes differ (damaged, or another object in its place: scrub with identities to tell)", backup.ErrHashMismatch, attrs.Size, o.StoredSize, HeadSize))
		}
	}
	r, err := b.NewReader(ctx, o.Key, nil)
	if err != nil {
		return verdict(missing(&ObjectError{Op: "open", Key: o.Key, Err: err}))
	}
	defer r.Close()
	sum, hd := sha256.New(), &head{}
	rep := newByteReport(ctx, "scrubbing "+o.Key, o.StoredSize, 1)
	n, err := copyProgress(ctx, io.MultiWriter(sum, hd), r, rep.update)
	so.Bytes = n
	if err != nil {
		return fail("download", err)
	}
	got := hex.EncodeToString(sum.Sum(nil))
	switch {
	case n != o.StoredSize:
		return fail("verify", fmt.Errorf("%w: read %d of %d bytes", backup.ErrTruncated, n, o.StoredSize))
	case got != o.StoredSHA256 && hd.sum() != o.HeadSHA256:
		return fail("verify", fmt.Errorf("%w: stored sha256 %s, the manifest records %s; its first %d bytes differ too (damaged there, or another object: scrub with identities to tell)", backup.ErrHashMismatch, got, o.StoredSHA256, HeadSize))
	case got != o.StoredSHA256:
		return fail("verify", fmt.Errorf("%w: stored sha256 %s, the manifest records %s", backup.ErrHashMismatch, got, o.StoredSHA256))
	}
	rep.finish(n)
	return so
}

// missing turns a storage NotFound of an object into backup.ErrMissingFile.
func missing(err error) error {
	var oe *ObjectError
	if gcerrors.Code(err) == gcerrors.NotFound && errors.As(err, &oe) {
		return &ObjectError{Op: oe.Op, Key: oe.Key, Err: fmt.Errorf("%w: %w", backup.ErrMissingFile, oe.Err)}
	}
	return err
}
