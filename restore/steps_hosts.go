package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/safetar"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// checkBackup is verify-backup without its record: it verifies the backup
// where it lies (BackupOnHost on the recovery host, else BackupDir here)
// with backup.VerifyOn, then runs the pre-flight checks (preflight), so
// that every check a later step applies is applied before any host is
// touched. It writes nothing on any host (a Source is first fetched into
// a local directory, fetchSource).
func (r *runner) checkBackup(ctx context.Context, progress func(string)) (*BackupRecord, map[string]int, error) {
	if err := r.fetchSource(ctx, progress); err != nil {
		return nil, nil, err
	}
	h, dir := r.local, r.opts.BackupDir
	if r.opts.BackupOnHost != "" {
		h, dir = r.deps.Recovery, r.opts.BackupOnHost
	} else if abs, err := filepath.Abs(dir); err == nil {
		dir = filepath.ToSlash(abs)
	}
	rec, revs, b, err := verifyBackupOn(ctx, h, dir, progress)
	if err != nil {
		return nil, nil, err
	}
	rec.Dir, _ = r.backupDirOnRecovery()
	if err := r.preflight(ctx, rec, b, progress); err != nil {
		return nil, nil, err
	}
	return rec, revs, nil
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// clusterEtcdVersion is the etcd version the cluster runs, for Decide:
// Options.ClusterEtcdVersion (which Validate parsed), else the one the
// backup records (same z-stream, same etcd; "" when it records none). A
// recorded version that does not parse makes the backup unusable: an
// error wrapping backup.ErrBadManifest.
func (r *runner) clusterEtcdVersion(rec *BackupRecord) (string, error) {
	if r.opts.ClusterEtcdVersion != "" {
		return r.opts.ClusterEtcdVersion, nil
	}
	if rec.EtcdVersion != "" {
		if _, err := majorMinor(rec.EtcdVersion); err != nil {
			return "", fmt.Errorf("%w: backup %s: etcd version: %v", backup.ErrBadManifest, rec.Snapshot, err)
		}
	}
	return rec.EtcdVersion, nil
}

// decide is Decide for the backup rec and the cluster's etcd version
// (clusterEtcdVersion).
func (r *runner) decide(rec *BackupRecord) (Decision, error) {
	v, err := r.clusterEtcdVersion(rec)
	if err != nil {
		return Decision{}, err
	}
	return Decide(rec.StorageVersion, v)
}

// method is the restore method the plan uses: the decision, turned into
// the restore pod when forced, without an InProcess writer, or when the recovery host's files are not
// local to this process.
func (r *runner) method(d Decision) Method {
	if r.opts.ForceRestorePod || r.deps.InProcess == nil {
		return RestorePod
	}
	if _, ok := r.deps.Recovery.LocalPath(r.opts.EtcdDataDir); !ok {
		return RestorePod
	}
	return d.Method
}

func (r *runner) verifyBackup(ctx context.Context, progress func(string)) error {
	if err := r.checkRelease(ctx, progress); err != nil {
		return err
	}
	rec, revs, err := r.checkBackup(ctx, progress)
	if err != nil {
		return err
	}
	progress(fmt.Sprintf("%s (revision %d, cluster %s, etcd %s, static pods %v)", rec.Snapshot, rec.Revision, orUnknown(rec.ClusterVersion), orUnknown(rec.EtcdVersion), revs))
	if plan.IsDryRun(ctx) {
		return nil
	}
	// The first write of the state: a backup that fails its checks leaves
	// every host as it was.
	id, err := r.identityOf(rec)
	if err != nil {
		return err
	}
	return r.state.Update(ctx, func(d *StateData) {
		if d.Plan == "" {
			d.Plan, d.Started = planName, r.opts.Now().UTC()
		}
		d.Backup, d.Revisions, d.Release = rec, revs, r.release
		r.recordRun(d, id)
	})
}

// backup returns the verified backup record from the state.
func (r *runner) backup(ctx context.Context) (*BackupRecord, StateData, error) {
	d, err := r.state.Get(ctx)
	if err != nil {
		return nil, d, err
	}
	if d.Backup == nil {
		return nil, d, errors.New("the state has no verified backup: run verify-backup first")
	}
	return d.Backup, d, nil
}

func (r *runner) copyBackup(ctx context.Context, progress func(string)) error {
	if err := r.fetchSource(ctx, progress); err != nil {
		return err
	}
	dst, needed := r.backupDirOnRecovery()
	if !needed {
		return plan.Skip("the backup is already on " + r.deps.Recovery.Name() + " at " + dst)
	}
	rec, _, err := r.backup(ctx)
	if err != nil {
		return err
	}
	h := r.deps.Recovery
	if err := h.MkdirAll(ctx, dst, 0o700); err != nil {
		return err
	}
	srcDir, err := filepath.Abs(r.opts.BackupDir)
	if err != nil {
		return err
	}
	for _, name := range []string{rec.Snapshot, rec.Archive, backup.ManifestFileName} {
		src := filepath.Join(srcDir, name)
		if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) && name == backup.ManifestFileName {
			continue
		}
		// By content: a file of the same name left by another backup is
		// moved aside, never taken for this one.
		if err := r.copyFile(ctx, r.local, src, h, "copy-backup", path.Join(dst, name), progress); err != nil {
			return fmt.Errorf("copying %s to %s: %w", name, h.Name(), err)
		}
	}
	return nil
}

// stopComponents moves the components' manifests aside on h and waits for
// their containers to stop.
func (r *runner) stopComponents(ctx context.Context, h host.Host, step string, comps []string, progress func(string)) error {
	var names []string
	moved := 0
	for _, c := range comps {
		m, err := r.moveAside(ctx, h, step, path.Join(r.opts.ManifestDir, c+"-pod.yaml"), path.Join(r.opts.AsideDir, "manifests"))
		if err != nil {
			return err
		}
		if m {
			moved++
			progress("...stopping " + c + "-pod.yaml")
		}
		names = append(names, componentContainers[c]...)
	}
	if err := r.waitContainersGone(ctx, h, names, progress); err != nil {
		return err
	}
	if moved == 0 {
		return plan.Skip("no manifest to move: already stopped")
	}
	return nil
}

func (r *runner) moveOtherData(ctx context.Context, h host.Host, progress func(string)) error {
	moved, err := r.moveAside(ctx, h, "move-etcd-data/"+h.Name(), r.opts.EtcdDataDir, r.opts.AsideDir)
	if err != nil {
		return err
	}
	if !moved {
		return plan.Skip(r.opts.EtcdDataDir + " does not exist on " + h.Name())
	}
	return nil
}

// moveRecoveryData moves every entry of the data directory (member/,
// revision.json, ...) into EtcdBackupDir, as cluster-restore.sh moves
// member/ to /var/lib/etcd-backup, and leaves the directory itself empty
// for the restore. A lost+found stays: it belongs to the filesystem when
// the data directory is its own disk, and RestoreSnapshot tolerates it.
func (r *runner) moveRecoveryData(ctx context.Context, progress func(string)) error {
	h := r.deps.Recovery
	step := "move-etcd-data/" + h.Name()
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	var srcs []string
	for _, m := range d.Moves {
		if m.Step == step && m.Host == h.Name() && !m.Done {
			srcs = append(srcs, m.From) // an interrupted move first
		}
	}
	entries, err := h.ReadDir(ctx, r.opts.EtcdDataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if e.Name == lostFound {
			continue // it belongs to the filesystem (a data dir on its own disk)
		}
		srcs = append(srcs, path.Join(r.opts.EtcdDataDir, e.Name))
	}
	for _, src := range srcs {
		moved, err := r.moveAside(ctx, h, step, src, r.opts.EtcdBackupDir)
		if err != nil {
			return err
		}
		if moved {
			progress("Moving etcd data " + src + " to " + r.opts.EtcdBackupDir)
		}
	}
	return h.MkdirAll(ctx, r.opts.EtcdDataDir, 0o700)
}

// extractResources writes the archive's static-pod-resources into
// ConfigDir. A file already there with the same content is left alone; one
// with other content is moved aside first.
func (r *runner) extractResources(ctx context.Context, progress func(string)) error {
	rec, _, err := r.backup(ctx)
	if err != nil {
		return err
	}
	h := r.deps.Recovery
	step := "extract-resources/" + h.Name()
	archive := path.Join(rec.Dir, rec.Archive)
	open := func() (io.ReadCloser, error) { return h.Open(ctx, archive) }
	written, skipped := 0, 0
	_, err = safetar.Extract(ctx, open, h, r.opts.ConfigDir, safetar.Options{
		Include: backup.InResources,
		BeforeWrite: func(ctx context.Context, dst string, e safetar.Entry, content []byte) error {
			fi, err := h.Stat(ctx, dst)
			if errors.Is(err, fs.ErrNotExist) {
				written++
				return nil
			}
			if err != nil {
				return err
			}
			if content != nil && fi.Size == e.Size && fi.Mode.IsRegular() {
				if same, err := sameContent(ctx, h, dst, content); err != nil {
					return err
				} else if same {
					skipped++
					return safetar.ErrSkipWrite
				}
			}
			rel := strings.TrimPrefix(dst, r.opts.ConfigDir+"/")
			if _, err := r.moveAside(ctx, h, step, dst, path.Join(r.opts.AsideDir, "config", path.Dir(rel))); err != nil {
				return err
			}
			written++
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("extracting %s on %s: %w", archive, h.Name(), err)
	}
	progress(fmt.Sprintf("static-pod-resources: %d files written, %d already in place", written, skipped))
	return nil
}
