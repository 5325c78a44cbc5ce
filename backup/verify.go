package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/internal/safetar"
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

// ArchiveInfo is what Verify read in the static resources archive.
type ArchiveInfo struct {
	// Entries is the number of entries in the archive.
	Entries int
	// FileBytes is the total size of the regular files under
	// static-pod-resources/: what extracting the archive writes.
	FileBytes int64
	// Links are the names of the symbolic and hard links under
	// static-pod-resources/ (they passed the archive rules; extracting
	// them needs a target that can create links, see
	// ArchiveStaticResources).
	Links []string
	// PodManifests holds, per component, the content of
	// static-pod-resources/<component>-pod-N/<component>-pod.yaml for the
	// archived revision N (at most 1 MiB each).
	PodManifests map[string][]byte
}

// maxPodManifestSize bounds the pod manifests Verify keeps in memory.
const maxPodManifestSize = 1 << 20

// Verify checks that the backup in the local directory dir is whole and
// returns its description; it is VerifyOn with this machine as the host.
// See VerifyOn for the checks and errors.
func Verify(ctx context.Context, dir string, opts VerifyOptions) (*Backup, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	b, err := VerifyOn(ctx, host.NewLocal("local", "/", host.LocalOptions{}), filepath.ToSlash(abs), opts)
	// Name the files as the caller named the directory.
	b.Dir = dir
	for _, f := range []*BackupFile{&b.Snapshot, &b.Resources} {
		if f.Name != "" {
			f.Path = filepath.Join(dir, f.Name)
		}
	}
	if b.SnapshotInfo != nil {
		b.SnapshotInfo.Path = b.Snapshot.Path
	}
	var ve *VerifyError
	if errors.As(err, &ve) {
		ve.Dir = dir
	}
	return b, err
}

// VerifyOn checks that the backup in the directory dir of host h is whole,
// reading every file once, as a stream, through the host interface (a
// file local to this process is read in place), and returns its
// description:
//
//   - one snapshot_<stamp>.db and one static_kuberesources_<stamp>.tar.gz
//     with the same stamp (or the ones of opts.Timestamp), both forced
//     (__POSSIBLY_DIRTY__) or both not, and no other file that
//     cluster-restore.sh's globs (ScriptSnapshotGlob, ScriptResourcesGlob)
//     would take instead (ErrAmbiguous names them);
//   - the snapshot's sha256 trailer matches and its bolt database passes
//     its consistency check (as VerifySnapshot checks it);
//   - the archive is a readable gzipped tar (its gzip checksum included)
//     whose every entry passes the archive rules extraction applies (no
//     absolute or escaping names or links, no special files, size limits),
//     holding a static-pod-resources/<component>-pod-N directory, with its
//     <component>-pod.yaml, for each of the four components;
//   - when backup.json describes this pair, sizes and sha256s match it.
//
// Accepted layouts: lifeboat's (with backup.json); what every release's
// cluster-backup.sh writes, 4.4 on, --force runs (__POSSIBLY_DIRTY__)
// included, and "etcdctl snapshot save" beside such an archive (no
// manifest: the revision and etcd version then come from the snapshot);
// one folder of the cluster's automated backups ("backup-<name>-<stamp>" on an EtcdBackup's PVC, "<stamp>" under
// /var/lib/etcd-auto-backup), whose archive may hold no directory entries.
// A possibly dirty backup is accepted with Backup.PossiblyDirty set and
// PossiblyDirtyWarning among the warnings. The root holding such folders
// is refused (ErrBackupRoot, naming them): pick one with LatestFolder or
// Folders. It writes nothing on h. Every problem found is listed in a
// *VerifyError, which unwraps to sentinels (ErrMissingFile, ErrAmbiguous,
// ErrBackupRoot, ErrTimestampMismatch, ErrHashMismatch, ErrNoHash, ErrTruncated,
// ErrCorruptDatabase, ErrBadArchive, ErrBadManifest) and, for an archive
// entry, to the archive rule's error. The returned Backup describes what
// was found even when err is not nil; it is never nil.
func VerifyOn(ctx context.Context, h host.Host, dir string, opts VerifyOptions) (*Backup, error) {
	if h == nil {
		return &Backup{Dir: dir}, opterr.Nil("backup.VerifyOn h")
	}
	log := logger(opts.Logger)
	b := &Backup{Dir: dir}
	verr := &VerifyError{Dir: h.Name() + ":" + dir}
	problem := func(file string, err error) {
		log.Warn("backup problem", "host", h.Name(), "dir", dir, "file", file, "err", err)
		verr.Problems = append(verr.Problems, Problem{File: file, Err: err})
	}
	result := func() (*Backup, error) {
		if len(verr.Problems) > 0 {
			return b, verr
		}
		return b, nil
	}

	entries, err := h.ReadDir(ctx, dir)
	if err != nil {
		problem("", fmt.Errorf("%w: %w", ErrMissingFile, err))
		return result()
	}
	snaps, archives := map[string][]string{}, map[string][]string{}
	// Names cluster-restore.sh would take (regular files, others), and
	// automated backup folders.
	var globbed, irregular, folders []string
	for _, e := range entries {
		if matchesScriptGlob(e.Name) {
			if !e.Mode.IsRegular() {
				// A link or directory the script could still take.
				irregular = append(irregular, e.Name)
			} else {
				globbed = append(globbed, e.Name)
			}
		}
		if _, _, ok := parseFolder(e.Name); ok && e.IsDir() {
			folders = append(folders, e.Name)
		}
		if !e.Mode.IsRegular() {
			continue
		}
		switch kind, stamp, _ := parseName(e.Name); kind {
		case "snapshot":
			snaps[stamp] = append(snaps[stamp], e.Name)
		case "resources":
			archives[stamp] = append(archives[stamp], e.Name)
		default:
			if strings.HasSuffix(e.Name, ".part") {
				b.Warnings = append(b.Warnings, e.Name+" is the remains of an interrupted write")
			}
		}
	}

	if len(snaps) == 0 && len(archives) == 0 && len(folders) > 0 {
		// A PVC root or /var/lib/etcd-auto-backup: which run to restore is
		// the caller's choice, never a guess.
		problem("", fmt.Errorf("%w (%w): %s; verify one of them (LatestFolder picks the newest)",
			ErrBackupRoot, ErrMissingFile, strings.Join(folders, ", ")))
		return result()
	}
	snapName, archName := choosePair(snaps, archives, opts.Timestamp, problem)
	if snapName != "" {
		_, b.Timestamp, b.PossiblyDirty = parseName(snapName)
	} else if archName != "" {
		_, b.Timestamp, b.PossiblyDirty = parseName(archName)
	}
	checkScriptView(snapName, archName, globbed, irregular, opts.Timestamp != "", b, problem)
	if b.PossiblyDirty {
		b.Warnings = append(b.Warnings, PossiblyDirtyWarning)
	}

	if snapName != "" {
		p := path.Join(dir, snapName)
		info, err := verifySnapshotOn(ctx, h, p, VerifySnapshotOptions{SkipDBCheck: opts.SkipDBCheck})
		if info != nil {
			b.Snapshot = BackupFile{Name: snapName, Path: p, Size: info.Size, SHA256: info.SHA256}
			b.SnapshotInfo = info
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
		p := path.Join(dir, archName)
		size, sum, dirs, ai, err := checkArchive(ctx, h, p, opts.Components)
		b.Resources = BackupFile{Name: archName, Path: p, Size: size, SHA256: sum}
		b.ResourceDirs, b.Archive = dirs, ai
		if err != nil {
			problem(archName, err)
		}
	}

	m, err := readManifestOn(ctx, h, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		problem(ManifestFileName, err)
	case m.Snapshot.Name != snapName || m.Resources.Name != archName:
		b.Warnings = append(b.Warnings, fmt.Sprintf("%s describes another backup (%s)", ManifestFileName, m.Timestamp))
	default:
		b.Manifest = m
		b.ClusterVersion = m.ClusterVersion
		if m.Revision != 0 {
			b.Revision = m.Revision
		}
		if m.EtcdVersion != "" {
			b.EtcdVersion = m.EtcdVersion
		}
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
		log.Info("backup verified", "host", h.Name(), "dir", dir, "timestamp", b.Timestamp, "revision", b.Revision)
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

// checkArchive reads the archive p on h once: its size and sha256, every
// entry checked against the archive rules of extraction (safetar.Check,
// default limits, gzip trailer included), each component's resource
// directory and pod manifest.
func checkArchive(ctx context.Context, h host.Host, p string, comps []string) (int64, string, []ResourceDir, *ArchiveInfo, error) {
	if comps == nil {
		comps = Components()
	}
	rc, err := h.Open(ctx, p)
	if err != nil {
		return 0, "", nil, nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	defer rc.Close()
	sum := sha256.New()
	cr := &countWriter{w: sum}
	finish := func() (int64, string) {
		// Hash whatever the reader left unread so the checksum is the file's.
		copyCtx(ctx, cr, rc)
		return cr.n, hex.EncodeToString(sum.Sum(nil))
	}
	type found struct {
		rev      int
		manifest []byte
	}
	seen := map[string]*found{}
	ai := &ArchiveInfo{PodManifests: map[string][]byte{}}
	onFile := func(e safetar.Entry, r io.Reader) error {
		c, rev, rest, ok := resourcePath(e.Name)
		if !ok || rest != c+"-pod.yaml" || e.Size > maxPodManifestSize {
			return nil
		}
		if fd := seen[c]; fd != nil && fd.rev > rev {
			return nil
		}
		body, err := io.ReadAll(io.LimitReader(r, maxPodManifestSize))
		if err != nil {
			return err
		}
		seen[c] = &found{rev: rev, manifest: body}
		return nil
	}
	entries, err := safetar.Check(ctx, io.TeeReader(rc, cr), safetar.Options{Include: InResources, OnFile: onFile})
	n, s := finish()
	if err != nil {
		if ctx.Err() != nil {
			return n, s, nil, nil, err
		}
		return n, s, nil, nil, fmt.Errorf("%w: %w", ErrBadArchive, err)
	}
	ai.Entries = len(entries)
	newest := map[string]int{}
	for _, e := range entries {
		if !e.Included {
			continue
		}
		switch e.Type {
		case safetar.TypeFile:
			ai.FileBytes += e.Size
		case safetar.TypeSymlink, safetar.TypeLink:
			ai.Links = append(ai.Links, e.Name)
		}
		if c, rev, _, ok := resourcePath(e.Name); ok && rev > newest[c] {
			newest[c] = rev
		}
	}
	var dirs []ResourceDir
	var errs []error
	for _, c := range comps {
		rev, ok := newest[c]
		if !ok {
			errs = append(errs, fmt.Errorf("%w: no %s/%s-pod-N directory", ErrBadArchive, resourcesRoot, c))
			continue
		}
		d := fmt.Sprintf("%s/%s-pod-%d", resourcesRoot, c, rev)
		if fd := seen[c]; fd == nil || fd.rev != rev {
			errs = append(errs, fmt.Errorf("%w: %s has no %s-pod.yaml", ErrBadArchive, d, c))
		} else {
			ai.PodManifests[c] = fd.manifest
		}
		dirs = append(dirs, ResourceDir{Component: c, Revision: rev, Path: DefaultConfigDir + "/" + d})
	}
	return n, s, dirs, ai, errors.Join(errs...)
}

// resourcePath splits an archive name
// "static-pod-resources/<component>-pod-<N>/<rest>".
func resourcePath(name string) (component string, rev int, rest string, ok bool) {
	m := resourceDirRE.FindStringSubmatch(name)
	if m == nil {
		return "", 0, "", false
	}
	rev, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0, "", false
	}
	return m[1], rev, m[3], true
}
