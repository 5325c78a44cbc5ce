package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"
	"gocloud.dev/blob"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/retention"
	"github.com/lifeboat-dev/lifeboat/internal/writeback"
)

// Fetch downloads the backup id from opts.Source into the local directory
// dir, in the cluster-backup.sh layout (snapshot_<stamp>.db,
// static_kuberesources_<stamp>.tar.gz, and backup.json when the backup had
// one), the form restore and cluster-restore.sh read. An empty id means the
// newest backup List reports as verified; any other id must be a backup
// stamp (Listed.ID), and dir must not be "" (lifeboat.ErrInvalidOptions,
// before any I/O).
//
// Everything is checked before anything is written to dir:
//
//   - the manifest's checksum (backup.ErrBadManifest; none:
//     retention.ErrNotFound);
//   - each object's lifeboat metadata and first bytes (another backup's or
//     file's: ErrMismatch; first bytes damaged: backup.ErrHashMismatch, or
//     backup.ErrTruncated when the object is also short), then its stored
//     size (shorter: backup.ErrTruncated; longer: backup.ErrHashMismatch);
//   - the age header against opts.Identities (ErrWrongIdentity).
//
// Then each object streams once through age decryption, zstd decompression
// and the checks of both sha256s (stored and plaintext) and of the
// snapshot's etcd sha256 trailer, into a staging directory
// dir/.lifeboat-fetch-<id>.part (a download that fails on a transient
// storage error, such as a broken connection, starts the object again, up
// to opts.Retry's attempts); an altered object fails age's authentication
// (backup.ErrHashMismatch), an intact object of another backup fails the
// plaintext sha256 (ErrMismatch). backup.Verify then checks the staged
// backup as a whole (archive rules, the bolt database unless SkipDBCheck,
// the backup's own manifest), and only then are the files renamed into dir.
// On any error the staging directory is removed, dir is left as it was, and
// files already in dir with the backup's names are refused (ErrExists)
// before any download.
//
// Errors are *ObjectError (Key names the object) wrapping the sentinels,
// lifeboat.ErrInvalidOptions (bad options, id or dir),
// retention.ErrNotFound without an object when id is "" and no verified
// backup exists, or ctx's error.
func Fetch(ctx context.Context, id, dir string, opts FetchOptions) (*backup.Backup, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if id != "" && !idRE.MatchString(id) {
		return nil, opterr.New("offsite.Fetch id", "%q is not a backup stamp (YYYY-MM-DD_HHMMSS)", id)
	}
	if dir == "" {
		return nil, opterr.Nil("offsite.Fetch dir")
	}
	log := logger(opts.Logger)
	src, closeSrc, err := opts.Source.open(ctx)
	if err != nil {
		return nil, err
	}
	defer closeSrc()
	if id == "" {
		ls, err := List(ctx, opts.Source, ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := len(ls) - 1; i >= 0; i-- {
			if ls[i].Err == nil && ls[i].Verified {
				id = ls[i].ID
				break
			}
		}
		if id == "" {
			return nil, fmt.Errorf("offsite: %w: no verified backup at %s", retention.ErrNotFound, opts.Source.String())
		}
	}
	m, err := readManifest(ctx, src, id)
	if err != nil {
		return nil, err
	}
	resBucket := src
	if m.Object(RoleResources).Destination == DestResources && !opts.Resources.set() {
		return nil, &ObjectError{Op: "open", Key: m.Object(RoleResources).Key, Err: opterr.New("offsite.FetchOptions.Resources",
			"the archive was stored at the resources destination; set it")}
	}
	if m.Object(RoleResources).Destination == DestResources {
		rb, closeRes, err := opts.Resources.open(ctx)
		if err != nil {
			return nil, err
		}
		defer closeRes()
		resBucket = rb
	}

	// Refuse files in the way before any download.
	names := []string{m.Object(RoleSnapshot).Name, m.Object(RoleResources).Name}
	if m.Local != nil {
		names = append(names, backup.ManifestFileName)
	}
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return nil, &ObjectError{Op: "write", Key: n, Err: fmt.Errorf("%w: %s already in %s", ErrExists, n, dir)}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, &ObjectError{Op: "write", Key: n, Err: err}
		}
	}

	// Open every object and its age header before writing anything.
	var streams []*fetchStream
	defer func() {
		for _, s := range streams {
			s.close()
		}
	}()
	for _, role := range []string{RoleSnapshot, RoleResources} {
		o := m.Object(role)
		b := src
		if role == RoleResources {
			b = resBucket
		}
		s, err := openStream(ctx, b, m, o, opts.Identities)
		if err != nil {
			return nil, err
		}
		streams = append(streams, s)
	}

	// Stage, verify, then move into dir.
	created, err := mkdirAllReport(dir)
	if err != nil {
		return nil, &ObjectError{Op: "write", Key: dir, Err: err}
	}
	stage := filepath.Join(dir, ".lifeboat-fetch-"+id+".part")
	refuse := func(err error) (*backup.Backup, error) {
		os.RemoveAll(stage)
		if created != "" {
			os.RemoveAll(created)
		}
		return nil, err
	}
	os.RemoveAll(stage) // the remains of an interrupted fetch
	if err := os.Mkdir(stage, 0o700); err != nil {
		return refuse(&ObjectError{Op: "write", Key: stage, Err: err})
	}
	for i := range streams {
		if err := fetchObject(ctx, &streams[i], filepath.Join(stage, streams[i].obj.Name), m, opts, log); err != nil {
			return refuse(err)
		}
	}
	if m.Local != nil {
		if err := backup.WriteManifest(stage, m.Local); err != nil {
			return refuse(&ObjectError{Op: "write", Key: backup.ManifestFileName, Err: err})
		}
	}
	b, err := backup.Verify(ctx, stage, backup.VerifyOptions{SkipDBCheck: opts.SkipDBCheck, Logger: log})
	if err != nil {
		// Every object matched the manifest, yet the backup is not whole
		// (the bolt check, the archive's rules): backup's *VerifyError says
		// which problem (backup.ErrInvalidBackup).
		return refuse(&ObjectError{Op: "verify", Key: m.ID, Err: err})
	}
	if m.Local != nil && b.Manifest == nil {
		return refuse(&ObjectError{Op: "verify", Key: m.ID, Err: fmt.Errorf("%w: the backup's own manifest does not describe its files", ErrMismatch)})
	}
	var moved []string
	for _, n := range names {
		if err := os.Rename(filepath.Join(stage, n), filepath.Join(dir, n)); err != nil {
			for _, mv := range moved {
				os.Remove(filepath.Join(dir, mv))
			}
			return refuse(&ObjectError{Op: "write", Key: n, Err: err})
		}
		moved = append(moved, n)
	}
	if err := syncDir(dir); err != nil {
		log.Warn("syncing the backup directory", "dir", dir, "err", err)
	}
	os.RemoveAll(stage)
	b.Dir = dir
	for _, f := range []*backup.BackupFile{&b.Snapshot, &b.Resources} {
		f.Path = filepath.Join(dir, f.Name)
	}
	if b.SnapshotInfo != nil {
		b.SnapshotInfo.Path = b.Snapshot.Path
	}
	log.Info("backup fetched", "id", id, "source", opts.Source.String(), "dir", dir)
	return b, nil
}

// fetchStream is an opened object: its reader and the age decryption of it.
type fetchStream struct {
	bucket *blob.Bucket
	obj    *Object
	key    string
	r      *blob.Reader
	src    *errReader // r, remembering its error: a failed read is not corruption
	stored hash.Hash
	n      *counter
	plain  io.Reader
}

func (s *fetchStream) close() { s.r.Close() }

// openStream checks an object's size and metadata and opens its age header
// with ids.
func openStream(ctx context.Context, b *blob.Bucket, m *Manifest, o *Object, ids []age.Identity) (*fetchStream, error) {
	fail := func(op string, err error) (*fetchStream, error) {
		return nil, &ObjectError{Op: op, Key: o.Key, Err: err}
	}
	attrs, err := b.Attributes(ctx, o.Key)
	if err != nil {
		return fail("open", err)
	}
	for k, want := range map[string]string{metaID: m.ID, metaName: o.Name, metaSHA256: o.SHA256} {
		if got, ok := attrs.Metadata[k]; ok && got != want {
			return fail("verify", fmt.Errorf("%w: its %s is %q, the manifest's %q", ErrMismatch, k, got, want))
		}
	}
	hr, err := b.NewRangeReader(ctx, o.Key, 0, HeadSize, nil)
	if err != nil {
		return fail("open", err)
	}
	hd := &head{}
	_, err = io.Copy(hd, hr)
	hr.Close()
	if err != nil {
		return fail("download", err)
	}
	switch {
	case hd.sum() != o.HeadSHA256:
		// Another object, or this one damaged in its first bytes.
		err := altered(ctx, b, o, attrs.Size, ids)
		op := "download"
		if errors.Is(err, ErrMismatch) || errors.Is(err, backup.ErrHashMismatch) || errors.Is(err, backup.ErrTruncated) {
			op = "verify"
		}
		return fail(op, err)
	case attrs.Size < o.StoredSize:
		return fail("verify", fmt.Errorf("%w: %d of %d bytes", backup.ErrTruncated, attrs.Size, o.StoredSize))
	case attrs.Size > o.StoredSize:
		return fail("verify", fmt.Errorf("%w: %d bytes, the manifest records %d", backup.ErrHashMismatch, attrs.Size, o.StoredSize))
	}
	r, err := b.NewReader(ctx, o.Key, nil)
	if err != nil {
		return fail("open", err)
	}
	s := &fetchStream{bucket: b, obj: o, key: o.Key, r: r, src: &errReader{r: r}, stored: sha256.New(), n: &counter{}}
	plain, err := age.Decrypt(io.TeeReader(s.src, io.MultiWriter(s.stored, s.n)), ids...)
	if s.src.err != nil {
		r.Close()
		return fail("download", s.src.err)
	}
	if err != nil {
		r.Close()
		var nim *age.NoIdentityMatchError
		if errors.As(err, &nim) {
			if !headerWithin(hd.b) {
				// HeadSHA256 does not cover the whole header (many or large
				// recipients, e.g. ssh-rsa): a damaged stanza reads as
				// another recipient. The stored sha256 tells.
				if err := checkStoredSum(ctx, b, o); errors.Is(err, backup.ErrHashMismatch) || errors.Is(err, backup.ErrTruncated) {
					return fail("verify", err)
				} else if err != nil {
					return fail("download", err)
				}
			}
			return fail("verify", fmt.Errorf("%w: encrypted to %d recipient(s) (%v), none of the %d identities given", ErrWrongIdentity, len(o.Recipients), o.Recipients, len(ids)))
		}
		return fail("verify", fmt.Errorf("%w: age header: %w", backup.ErrHashMismatch, err))
	}
	s.plain = plain
	return s, nil
}

// copyTo decrypts, decompresses and verifies the object into path; its
// stored bytes are reported as "downloading <name>".
func (s *fetchStream) copyTo(ctx context.Context, path string, attempt int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return &ObjectError{Op: "write", Key: path, Err: err}
	}
	defer f.Close()
	if err := s.verifyInto(ctx, writeback.NewWriter(f), path, "downloading "+s.obj.Name, attempt); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return &ObjectError{Op: "write", Key: path, Err: err}
	}
	return nil
}

// verifyInto decrypts, decompresses and verifies the object into w (path
// names w in write errors): the stored size and both sha256s, the plaintext
// size, the snapshot's etcd sha256 trailer. The stored bytes read are
// reported with plan.ReportBytes as msg.
func (s *fetchStream) verifyInto(ctx context.Context, w io.Writer, path, msg string, attempt int) error {
	fail := func(err error) error { return &ObjectError{Op: "verify", Key: s.key, Err: err} }
	src := s.plain
	if s.obj.Codec == CodecZstdAge {
		zr, err := zstd.NewReader(s.plain, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return fail(err)
		}
		defer zr.Close()
		src = zr
	}
	plainSum := sha256.New()
	sinks := []io.Writer{w, plainSum}
	var snap *backup.SnapshotHasher
	if s.obj.Role == RoleSnapshot {
		snap = backup.NewSnapshotHasher()
		sinks = append(sinks, snap)
	}
	rep := newByteReport(ctx, msg, s.obj.StoredSize, attempt)
	n, err := copyProgress(ctx, io.MultiWriter(sinks...), src, func(int64) { rep.update(s.n.n) })
	if err != nil {
		if ctx.Err() != nil {
			return fail(err)
		}
		if s.src.err != nil {
			return &ObjectError{Op: "download", Key: s.key, Err: s.src.err}
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return &ObjectError{Op: "write", Key: path, Err: err}
		}
		// The size was checked: a stream that does not decrypt or
		// decompress was altered.
		return fail(fmt.Errorf("%w: %w", backup.ErrHashMismatch, err))
	}
	storedSHA := hex.EncodeToString(s.stored.Sum(nil))
	plainSHA := hex.EncodeToString(plainSum.Sum(nil))
	switch {
	case s.n.n < s.obj.StoredSize:
		return fail(fmt.Errorf("%w: read %d of %d bytes", backup.ErrTruncated, s.n.n, s.obj.StoredSize))
	case n != s.obj.Size || plainSHA != s.obj.SHA256:
		return fail(fmt.Errorf("%w: decrypts to %d bytes sha256 %s, the manifest records %d bytes sha256 %s", ErrMismatch, n, plainSHA, s.obj.Size, s.obj.SHA256))
	case storedSHA != s.obj.StoredSHA256:
		return fail(fmt.Errorf("%w: stored sha256 %s, the manifest records %s", backup.ErrHashMismatch, storedSHA, s.obj.StoredSHA256))
	}
	if snap != nil {
		if _, err := snap.Sum(false); err != nil {
			// backup.ErrHashMismatch, ErrNoHash or ErrTruncated.
			return fail(fmt.Errorf("the snapshot's etcd sha256 trailer: %w", err))
		}
	}
	rep.finish(s.n.n)
	return nil
}

// mkdirAllReport creates dir like os.MkdirAll (mode 0700) and returns the
// topmost directory it created ("" when dir existed).
func mkdirAllReport(dir string) (string, error) {
	dir = filepath.Clean(dir)
	top := ""
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		top = d
		if filepath.Dir(d) == d {
			break
		}
	}
	return top, os.MkdirAll(dir, 0o700)
}

// syncDir fsyncs a directory so renames into it last.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
