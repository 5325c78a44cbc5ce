package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/safetar"
)

// PreflightError is a check of verify-backup that refused the restore
// before any host was touched. Check names it: "release" (the cluster's
// procedure generation is not the one this plan implements, Err a
// *ReleaseMismatchError matching ErrProcedureNotForRelease; or
// release.ErrConflict, release.ErrUnsupportedRelease), "hosts" (a master does not
// answer), "archive-links" (the archive holds links the recovery host
// cannot create), "free-space", "versions" (z-stream, snapshot storage
// version against the cluster's etcd), "member" (the restored member's
// name and peer URL), "restore-pod" (the etcd image to restore with),
// "revision-file" (revision.json, which sizes the revision bump), "source"
// (Options.Source's fetch refused the backup; Err wraps its error). Host is
// the host concerned ("" for none); Err wraps the sentinel (ErrLinksUnsupported
// of the archive rules, backup.ErrInsufficientSpace, ErrVersionMismatch,
// ErrSnapshotTooNew, lifeboat.ErrInvalidOptions, ErrRestorePodImage) or the cause.
type PreflightError struct {
	Check string
	Host  string
	Err   error
}

func (e *PreflightError) Error() string {
	on := ""
	if e.Host != "" {
		on = " on " + e.Host
	}
	return fmt.Sprintf("restore pre-flight check %s failed%s (no host was changed): %v", e.Check, on, e.Err)
}

func (e *PreflightError) Unwrap() error { return e.Err }

// FreeSpace is the room on the filesystem holding a path of a host.
type FreeSpace struct {
	// Bytes available to the restore.
	Bytes uint64
	// Filesystem identifies the filesystem: two paths with the same
	// Filesystem share Bytes.
	Filesystem string
}

// walMargin is what a restored data directory needs beyond the database:
// etcd preallocates its first WAL segment (64 MiB), plus room for the
// raft snapshot etcdutl writes.
const walMargin = 80 << 20

// preflight applies, before the first host is touched, every check a
// later step of the plan applies (see Plan for the list, step by step).
// b is backup's description of the verified backup.
func (r *runner) preflight(ctx context.Context, rec *BackupRecord, b *backup.Backup, progress func(string)) error {
	rh := r.deps.Recovery
	// stop-*, move-*, restart-kubelet: every host answers the operations
	// those steps use.
	for _, h := range append([]host.Host{rh}, r.deps.Others...) {
		if _, err := h.Stat(ctx, r.opts.ManifestDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &PreflightError{Check: "hosts", Host: h.Name(), Err: err}
		}
		if _, err := h.Containers(ctx, "etcd"); err != nil {
			return &PreflightError{Check: "hosts", Host: h.Name(), Err: err}
		}
	}

	// extract-resources: the archive rules were applied by the verifier;
	// the links they allow need a recovery host that can create them.
	if b.Archive != nil && len(b.Archive.Links) > 0 && !safetar.CanLink(rh) {
		return &PreflightError{Check: "archive-links", Host: rh.Name(), Err: fmt.Errorf(
			"the static resources archive holds %d link(s) the recovery host cannot create (first %s): re-archive it with links dereferenced (tar -h, or a lifeboat backup): %w",
			len(b.Archive.Links), b.Archive.Links[0], &safetar.EntryError{Name: b.Archive.Links[0], Err: safetar.ErrLinksUnsupported})}
	}

	// restore-snapshot: z-stream and storage version (RestoreSnapshot,
	// Decide), then the method.
	if err := checkVersions(rec.ClusterVersion, r.opts.ClusterVersion); err != nil {
		if !r.opts.AllowVersionMismatch {
			return &PreflightError{Check: "versions", Err: err}
		}
		progress("WARNING: " + err.Error() + "; going on as AllowVersionMismatch asks")
	} else if rec.ClusterVersion == "" || r.opts.ClusterVersion == "" {
		progress(fmt.Sprintf("z-stream not checked: backup version %s, cluster version %s", orUnknown(rec.ClusterVersion), orUnknown(r.opts.ClusterVersion)))
	}
	d, err := r.decide(rec)
	if err != nil {
		return &PreflightError{Check: "versions", Err: err}
	}
	method := r.method(d)
	progress(fmt.Sprintf("snapshot %s: revision %d, sha256 %s; restore %s: %s", rec.Snapshot, rec.Revision, short(rec.SHA256), method, d.Reason))

	// restore-snapshot and start-control-plane: who the restored member
	// is, from the same sources the steps read.
	own, err := readIfExists(ctx, rh, path.Join(r.opts.ManifestDir, "etcd-pod.yaml"))
	if err != nil {
		return &PreflightError{Check: "hosts", Host: rh.Name(), Err: err}
	}
	backupEtcd := b.Archive.PodManifests["etcd"]
	id, err := resolveIdentity(r.opts.MemberName, r.opts.PeerURL, rh.Name(), own, backupEtcd)
	if err == nil {
		err = validatePeerURL(id.PeerURL)
	}
	if err != nil {
		return &PreflightError{Check: "member", Host: rh.Name(), Err: err}
	}
	progress(fmt.Sprintf("restoring as member %s (%s)", id.Name, id.PeerURL))
	if method == InProcess && own == nil {
		if got, err := memberFromEtcdPod(backupEtcd); err != nil || got.Name != id.Name || got.PeerURL != id.PeerURL {
			return &PreflightError{Check: "member", Host: rh.Name(), Err: opterr.New("",
				"the in-process restore (restore.Deps.InProcess) of member %s (restore.Options.MemberName, restore.Options.PeerURL): the recovery host has no etcd-pod.yaml and the backup's describes another member; start-control-plane would have no etcd manifest", id.Name)}
		}
	}

	// restore-snapshot: revision.json sizes the bump.
	revFile := path.Join(r.opts.EtcdDataDir, "revision.json")
	if !r.opts.NoRevisionBump && r.opts.RevisionBump == 0 {
		if b, err := readIfExists(ctx, rh, revFile); err != nil {
			return &PreflightError{Check: "revision-file", Host: rh.Name(), Err: err}
		} else if b != nil {
			if _, err := parseRevisionJSON(b); err != nil {
				return &PreflightError{Check: "revision-file", Host: rh.Name(), Err: fmt.Errorf("%s sizes the revision bump: %w (set RevisionBump to override)", revFile, err)}
			}
		}
	}

	// restore-snapshot with the restore pod: the etcd image to run.
	if method == RestorePod {
		if err := r.checkRestorePod(ctx, own, backupEtcd, id); err != nil {
			return &PreflightError{Check: "restore-pod", Host: rh.Name(), Err: err}
		}
	}

	// copy-backup, move-etcd-data, extract-resources, restore-snapshot:
	// room for what they write.
	return r.checkFreeSpace(ctx, b, method, progress)
}

// readIfExists reads p on h; nil, nil when it does not exist.
func readIfExists(ctx context.Context, h host.Host, p string) ([]byte, error) {
	b, err := h.ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// resolveIdentity finds the restored member's name and peer URL: the
// options, else the recovery host's own etcd-pod.yaml, else the backup's
// (its peer URL only when it names the same member); the name falls back
// to the host's name. It is the rule of the restore-snapshot step.
func resolveIdentity(name, peer, hostName string, sources ...[]byte) (memberIdentity, error) {
	id := memberIdentity{Name: name, PeerURL: peer}
	for _, src := range sources {
		if id.Name != "" && id.PeerURL != "" {
			break
		}
		if src == nil {
			continue
		}
		got, err := memberFromEtcdPod(src)
		if err != nil {
			continue
		}
		if id.Name == "" {
			id.Name = got.Name
		}
		if id.PeerURL == "" && (got.Name == id.Name || got.Name == "") {
			id.PeerURL = got.PeerURL
		}
	}
	if id.Name == "" {
		id.Name = hostName
	}
	if id.PeerURL == "" {
		return id, opterr.New("restore.Options.PeerURL", "is required: the peer URL of member %s is not in its etcd-pod.yaml", id.Name)
	}
	return id, nil
}

// validatePeerURL applies RestoreSnapshot's rule: an absolute URL with a
// host.
func validatePeerURL(u string) error {
	if p, err := url.Parse(u); err != nil || p.Scheme == "" || p.Host == "" {
		return opterr.New("restore.Options.PeerURL", "%q is not an absolute URL with a host", u)
	}
	return nil
}

// checkRestorePod applies writeRestorePod's choice: the cluster's own
// restore pod when the host has it, else the restore pod built from the
// host's etcd-pod.yaml or the backup's, which must name an image.
func (r *runner) checkRestorePod(ctx context.Context, own, backupEtcd []byte, id memberIdentity) error {
	cluster, err := readIfExists(ctx, r.deps.Recovery, clusterRestorePodPath)
	if err != nil {
		return err
	}
	if cluster != nil {
		return podImage(cluster)
	}
	base := own
	if base == nil {
		base = backupEtcd
	}
	if base == nil {
		return fmt.Errorf("%w: neither the host's etcd-pod.yaml nor the backup's is at hand", ErrRestorePodImage)
	}
	_, err = buildRestorePod(base, restorePodConfig{Member: id, ClusterToken: "openshift-etcd-preflight",
		SnapshotPath: path.Join(r.opts.EtcdBackupDir, "snapshot.db"), DataDir: r.opts.EtcdDataDir})
	return err
}

// checkFreeSpace adds up, per filesystem of the recovery host (and of the
// other masters whose data is moved), what the steps write, and compares
// it with the room there.
func (r *runner) checkFreeSpace(ctx context.Context, b *backup.Backup, method Method, progress func(string)) error {
	type need struct {
		h     host.Host
		fs    FreeSpace
		bytes uint64
		what  []string
	}
	needs := map[string]*need{}
	add := func(h host.Host, p string, n uint64, what string) error {
		fsp, err := r.freeSpace(ctx, h, p)
		if err != nil {
			return &PreflightError{Check: "free-space", Host: h.Name(), Err: fmt.Errorf("measuring the free space at %s: %w", p, err)}
		}
		k := h.Name() + "\x00" + fsp.Filesystem
		if needs[k] == nil {
			needs[k] = &need{h: h, fs: fsp}
		}
		needs[k].bytes += n
		needs[k].what = append(needs[k].what, fmt.Sprintf("%s %s (%d bytes)", what, p, n))
		return nil
	}
	rh := r.deps.Recovery
	snap := uint64(b.Snapshot.Size)
	dst, copyNeeded := r.backupDirOnRecovery()
	if copyNeeded {
		if err := add(rh, dst, snap+uint64(b.Resources.Size)+(1<<20), "copy-backup to"); err != nil {
			return err
		}
	}
	if err := add(rh, r.opts.ConfigDir, uint64(b.Archive.FileBytes), "extract-resources into"); err != nil {
		return err
	}
	if err := add(rh, r.opts.EtcdDataDir, snap+walMargin, "restore-snapshot into"); err != nil {
		return err
	}
	if method == RestorePod {
		if err := add(rh, r.opts.EtcdBackupDir, snap, "restore pod's staged snapshot in"); err != nil {
			return err
		}
	}
	// move-etcd-data renames; across filesystems a move is a copy.
	moves := []struct {
		h        host.Host
		from, to string
	}{{rh, r.opts.EtcdDataDir, r.opts.EtcdBackupDir}}
	for _, h := range r.deps.Others {
		moves = append(moves, struct {
			h        host.Host
			from, to string
		}{h, r.opts.EtcdDataDir, r.opts.AsideDir})
	}
	for _, m := range moves {
		from, err := r.freeSpace(ctx, m.h, m.from)
		if err != nil {
			return &PreflightError{Check: "free-space", Host: m.h.Name(), Err: err}
		}
		to, err := r.freeSpace(ctx, m.h, m.to)
		if err != nil {
			return &PreflightError{Check: "free-space", Host: m.h.Name(), Err: err}
		}
		if from.Filesystem == to.Filesystem {
			continue
		}
		size, err := treeSize(ctx, m.h, m.from, 0)
		if err != nil {
			return &PreflightError{Check: "free-space", Host: m.h.Name(), Err: err}
		}
		if err := add(m.h, m.to, size, "move-etcd-data of "+m.from+" to"); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(needs))
	for k := range needs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := needs[k]
		if n.bytes > n.fs.Bytes {
			return &PreflightError{Check: "free-space", Host: n.h.Name(), Err: fmt.Errorf("%w: %d bytes free, the restore writes %d: %s",
				backup.ErrInsufficientSpace, n.fs.Bytes, n.bytes, strings.Join(n.what, ", "))}
		}
		progress(fmt.Sprintf("free space on %s: %d bytes, the restore writes %d (%s)", n.h.Name(), n.fs.Bytes, n.bytes, strings.Join(n.what, ", ")))
	}
	return nil
}

// freeSpace measures the room at p on h, or at its nearest existing
// ancestor: Options.FreeSpace when set, statfs for a host whose files are
// local, else "stat -f" run on the host.
func (r *runner) freeSpace(ctx context.Context, h host.Host, p string) (FreeSpace, error) {
	if r.opts.FreeSpace != nil {
		return r.opts.FreeSpace(ctx, h, p)
	}
	for {
		_, err := h.Stat(ctx, p)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || p == "/" {
			break
		}
		p = path.Dir(p)
	}
	if lp, ok := h.LocalPath(p); ok {
		return statfs(lp)
	}
	out, err := h.Run(ctx, nil, "stat", "-f", "-c", "%a %S %i", p)
	if err != nil {
		return FreeSpace{}, fmt.Errorf("stat -f %s on %s: %w", p, h.Name(), err)
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return FreeSpace{}, fmt.Errorf("stat -f %s on %s: unexpected output %q", p, h.Name(), out)
	}
	avail, err1 := strconv.ParseUint(f[0], 10, 64)
	bsize, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return FreeSpace{}, fmt.Errorf("stat -f %s on %s: unexpected output %q", p, h.Name(), out)
	}
	return FreeSpace{Bytes: avail * bsize, Filesystem: f[2]}, nil
}

// treeSize adds up the sizes of the regular files beneath p on h.
func treeSize(ctx context.Context, h host.Host, p string, depth int) (uint64, error) {
	fi, err := h.Stat(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil || !fi.IsDir() {
		return uint64(max(fi.Size, 0)), err
	}
	if depth > 64 {
		return 0, fmt.Errorf("%s on %s: directories nested too deep", p, h.Name())
	}
	entries, err := h.ReadDir(ctx, p)
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, e := range entries {
		switch {
		case e.IsDir():
			s, err := treeSize(ctx, h, path.Join(p, e.Name), depth+1)
			if err != nil {
				return 0, err
			}
			n += s
		case e.Mode.IsRegular():
			n += uint64(max(e.Size, 0))
		}
	}
	return n, nil
}

// podImage checks that every container of a pod manifest names an image.
func podImage(manifest []byte) error {
	var pod corev1.Pod
	if err := yaml.Unmarshal(manifest, &pod); err != nil {
		return fmt.Errorf("%w: parsing %s: %v", ErrRestorePodImage, clusterRestorePodPath, err)
	}
	if len(pod.Spec.Containers) == 0 {
		return fmt.Errorf("%w: %s has no container", ErrRestorePodImage, clusterRestorePodPath)
	}
	for _, c := range pod.Spec.Containers {
		if c.Image == "" {
			return fmt.Errorf("%w: container %s of %s names no image", ErrRestorePodImage, c.Name, clusterRestorePodPath)
		}
	}
	return nil
}
