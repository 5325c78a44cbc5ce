package backup

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// VerifyOptions configure Verify. The zero value requires the directory to
// hold exactly one backup and checks everything.
type VerifyOptions struct {
	// Timestamp chooses the backup ("2020-03-18_220218") when the
	// directory holds several; empty means there must be exactly one.
	Timestamp string
	// SkipDBCheck skips the bolt consistency check of the snapshot (see
	// VerifySnapshot for what it costs).
	SkipDBCheck bool
	// Components the archive must hold; nil means Components.
	Components []string
	// Logger receives the findings; nil discards them.
	Logger *slog.Logger
}

// Verify checks that the backup in dir is whole and returns its
// description:
//
//   - one snapshot_<stamp>.db and one static_kuberesources_<stamp>.tar.gz
//     with the same stamp (or the ones of opts.Timestamp), forced
//     (__POSSIBLY_DIRTY__) or not;
//   - the snapshot's sha256 trailer matches and its bolt database passes
//     its consistency check (VerifySnapshot);
//   - the archive is a readable gzipped tar holding a
//     static-pod-resources/<component>-pod-N directory, with its
//     <component>-pod.yaml, for each of the four components;
//   - when backup.json describes this pair, sizes and sha256s match it.
//
// It works on backups cluster-backup.sh or "etcdctl snapshot save" wrote
// (no manifest): the revision and etcd version then come from the
// snapshot. Every problem found is listed in a *VerifyError, which
// unwraps to sentinels (ErrMissingFile, ErrAmbiguous,
// ErrTimestampMismatch, ErrHashMismatch, ErrNoHash, ErrTruncated,
// ErrCorruptDatabase, ErrBadArchive, ErrBadManifest). The returned Backup
// describes what was found even when err is not nil.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*Backup, error) {
	log := logger(opts.Logger)
	b := &Backup{Dir: dir}
	verr := &VerifyError{Dir: dir}
	problem := func(file string, err error) {
		log.Warn("backup problem", "file", file, "err", err)
		verr.Problems = append(verr.Problems, Problem{File: file, Err: err})
	}
	result := func() (*Backup, error) {
		if len(verr.Problems) > 0 {
			return b, verr
		}
		return b, nil
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		problem("", fmt.Errorf("%w: %w", ErrMissingFile, err))
		return result()
	}
	snaps, archives := map[string][]string{}, map[string][]string{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		switch kind, stamp, _ := parseName(e.Name()); kind {
		case "snapshot":
			snaps[stamp] = append(snaps[stamp], e.Name())
		case "resources":
			archives[stamp] = append(archives[stamp], e.Name())
		default:
			if strings.HasSuffix(e.Name(), ".part") {
				b.Warnings = append(b.Warnings, e.Name()+" is the remains of an interrupted write")
			}
		}
	}

	snapName, archName := choosePair(snaps, archives, opts.Timestamp, problem)
	if snapName != "" {
		_, b.Timestamp, b.PossiblyDirty = parseName(snapName)
	} else if archName != "" {
		_, b.Timestamp, b.PossiblyDirty = parseName(archName)
	}

	if snapName != "" {
		p := filepath.Join(dir, snapName)
		info, err := VerifySnapshot(ctx, p, VerifySnapshotOptions{SkipDBCheck: opts.SkipDBCheck})
		if info != nil {
			b.Snapshot = BackupFile{Name: snapName, Path: p, Size: info.Size, SHA256: info.SHA256}
			b.Revision, b.EtcdVersion = info.Revision, info.StorageVersion
		}
		if err != nil {
			var se *SnapshotError
			if errors.As(err, &se) {
				err = se.Err
			}
			problem(snapName, err)
		}
	}
	if archName != "" {
		p := filepath.Join(dir, archName)
		size, sum, dirs, err := checkArchive(ctx, p, opts.Components)
		b.Resources = BackupFile{Name: archName, Path: p, Size: size, SHA256: sum}
		b.ResourceDirs = dirs
		if err != nil {
			problem(archName, err)
		}
	}

	m, err := ReadManifest(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		problem(ManifestFileName, err)
	case m.Snapshot.Name != snapName || m.Resources.Name != archName:
		b.Warnings = append(b.Warnings, fmt.Sprintf("%s describes another backup (%s)", ManifestFileName, m.Timestamp))
	default:
		b.Manifest = m
		b.Revision, b.EtcdVersion, b.ClusterVersion = m.Revision, m.EtcdVersion, m.ClusterVersion
		for _, c := range []struct {
			got  BackupFile
			want ManifestFile
		}{{b.Snapshot, m.Snapshot}, {b.Resources, m.Resources}} {
			if c.got.SHA256 != "" && (c.got.Size != c.want.Size || c.got.SHA256 != c.want.SHA256) {
				problem(c.got.Name, fmt.Errorf("%w: %d bytes sha256 %s, %s records %d bytes sha256 %s",
					ErrHashMismatch, c.got.Size, c.got.SHA256, ManifestFileName, c.want.Size, c.want.SHA256))
			}
		}
	}
	if len(verr.Problems) == 0 {
		log.Info("backup verified", "dir", dir, "timestamp", b.Timestamp, "revision", b.Revision)
	}
	return result()
}

// choosePair picks the snapshot and archive names of one backup.
func choosePair(snaps, archives map[string][]string, want string, problem func(string, error)) (snap, arch string) {
	one := func(names []string) string {
		if len(names) > 1 {
			// The same stamp, forced and not: two different backups.
			problem("", fmt.Errorf("%w: %s", ErrAmbiguous, strings.Join(names, ", ")))
		}
		if len(names) == 0 {
			return ""
		}
		return names[0]
	}
	if want != "" {
		snap, arch = one(snaps[want]), one(archives[want])
		if snap == "" {
			problem("", fmt.Errorf("%w: no %s", ErrMissingFile, SnapshotFileName(want, false)))
		}
		if arch == "" {
			problem("", fmt.Errorf("%w: no %s", ErrMissingFile, ResourcesFileName(want, false)))
		}
		return snap, arch
	}
	stamps := func(m map[string][]string) []string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		slices.Sort(s)
		return s
	}
	ss, as := stamps(snaps), stamps(archives)
	if len(ss) > 1 || len(as) > 1 {
		problem("", fmt.Errorf("%w: snapshots %v, archives %v; choose one with VerifyOptions.Timestamp", ErrAmbiguous, ss, as))
		return "", ""
	}
	if len(ss) == 1 {
		snap = one(snaps[ss[0]])
	} else {
		problem("", fmt.Errorf("%w: no snapshot_<timestamp>.db", ErrMissingFile))
	}
	if len(as) == 1 {
		arch = one(archives[as[0]])
	} else {
		problem("", fmt.Errorf("%w: no static_kuberesources_<timestamp>.tar.gz", ErrMissingFile))
	}
	if len(ss) == 1 && len(as) == 1 && ss[0] != as[0] {
		problem("", fmt.Errorf("%w: %s and %s", ErrTimestampMismatch, snap, arch))
	}
	return snap, arch
}

var resourceDirRE = regexp.MustCompile(`^static-pod-resources/([a-z-]+)-pod-(\d+)/(.*)$`)

// checkArchive reads the whole archive once (gzip checksums included) and
// checks it holds each component's resource directory and pod manifest.
func checkArchive(ctx context.Context, path string, comps []string) (int64, string, []ResourceDir, error) {
	if comps == nil {
		comps = Components
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	defer f.Close()
	sum := sha256.New()
	cr := &countWriter{w: sum}
	finish := func() (int64, string) {
		// Hash whatever the readers left unread so the checksum is the file's.
		io.Copy(cr, f)
		return cr.n, hex.EncodeToString(sum.Sum(nil))
	}
	tee := io.TeeReader(f, cr)
	zr, err := gzip.NewReader(tee)
	if err != nil {
		n, s := finish()
		return n, s, nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	tr := tar.NewReader(zr)
	type found struct {
		rev      int
		manifest bool
	}
	seen := map[string]*found{}
	for {
		if err := ctx.Err(); err != nil {
			n, s := finish()
			return n, s, nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err == nil {
			_, err = io.Copy(io.Discard, tr)
		}
		if err != nil {
			n, s := finish()
			return n, s, nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
		}
		m := resourceDirRE.FindStringSubmatch(strings.TrimPrefix(hdr.Name, "./"))
		if m == nil {
			continue
		}
		rev, _ := strconv.Atoi(m[2])
		fd := seen[m[1]]
		if fd == nil || rev > fd.rev {
			fd = &found{rev: rev}
			seen[m[1]] = fd
		}
		if rev == fd.rev && m[3] == m[1]+"-pod.yaml" {
			fd.manifest = true
		}
	}
	// Reading to the end checks the gzip trailer (CRC and length).
	if _, err := io.Copy(io.Discard, zr); err != nil {
		n, s := finish()
		return n, s, nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	n, s := finish()
	var dirs []ResourceDir
	var errs []error
	for _, c := range comps {
		fd := seen[c]
		if fd == nil {
			errs = append(errs, fmt.Errorf("%w: no static-pod-resources/%s-pod-N directory", ErrBadArchive, c))
			continue
		}
		p := fmt.Sprintf("static-pod-resources/%s-pod-%d", c, fd.rev)
		if !fd.manifest {
			errs = append(errs, fmt.Errorf("%w: %s has no %s-pod.yaml", ErrBadArchive, p, c))
		}
		dirs = append(dirs, ResourceDir{Component: c, Revision: fd.rev, Path: DefaultConfigDir + "/" + p})
	}
	return n, s, dirs, errors.Join(errs...)
}
