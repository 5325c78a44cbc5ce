package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/backup"
	"io/fs"
	"path"
	"strconv"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// movedTo returns where the state says from was moved on h ("" if not).
func movedTo(d StateData, h, from string) string {
	to := ""
	for _, m := range d.Moves {
		if m.Host == h && m.From == from && m.Done {
			to = m.To
		}
	}
	return to
}

// backupPodPath is the backup's manifest of comp on the recovery host,
// after extract-resources.
func (r *runner) backupPodPath(d StateData, comp string) (string, error) {
	n := d.Revisions[comp]
	if n == 0 {
		return "", fmt.Errorf("%w: no %s revision recorded from the archive", backup.ErrInvalidBackup, comp)
	}
	return fmt.Sprintf("%s/static-pod-resources/%s-pod-%d/%s-pod.yaml", r.opts.ConfigDir, comp, n, comp), nil
}

// ownEtcdPod returns the recovery host's own etcd-pod.yaml, as moved aside
// by stop-static-pods (nil when it had none).
func (r *runner) ownEtcdPod(ctx context.Context, d StateData) ([]byte, error) {
	h := r.deps.Recovery
	p := movedTo(d, h.Name(), path.Join(r.opts.ManifestDir, "etcd-pod.yaml"))
	if p == "" {
		return nil, nil
	}
	return h.ReadFile(ctx, p)
}

// memberIdentity finds the restored member's name and peer URL: the
// options, else the recovery host's own etcd-pod.yaml, else the backup's.
func (r *runner) memberIdentity(ctx context.Context, d StateData) (memberIdentity, error) {
	if r.opts.MemberName != "" && r.opts.PeerURL != "" {
		return memberIdentity{Name: r.opts.MemberName, PeerURL: r.opts.PeerURL}, nil
	}
	own, err := r.ownEtcdPod(ctx, d)
	if err != nil {
		return memberIdentity{}, err
	}
	var fromBackup []byte
	if p, err := r.backupPodPath(d, "etcd"); err == nil {
		fromBackup, _ = r.deps.Recovery.ReadFile(ctx, p)
	}
	return resolveIdentity(r.opts.MemberName, r.opts.PeerURL, r.deps.Recovery.Name(), own, fromBackup)
}

func (r *runner) restoreSnapshot(ctx context.Context, progress func(string)) error {
	rec, d, err := r.backup(ctx)
	if err != nil {
		return err
	}
	h := r.deps.Recovery
	dec, err := r.decide(rec)
	if err != nil {
		return err
	}
	method := r.method(dec)
	id, err := r.memberIdentity(ctx, d)
	if err != nil {
		return err
	}
	memberDir := path.Join(r.opts.EtcdDataDir, "member")
	if d.Restore != nil && d.Restore.Method == InProcess && method == InProcess {
		// An earlier run restored (the rename into place is the last
		// thing RestoreSnapshot does) and stopped before recording it.
		if ok, err := exists(ctx, h, memberDir); err != nil {
			return err
		} else if ok {
			return plan.Skip("the data directory was restored by an earlier run")
		}
	}
	token := "openshift-etcd-" + randomHex(8)
	if d.Restore != nil && d.Restore.ClusterToken != "" {
		token = d.Restore.ClusterToken
	}
	rr := &RestoreRecord{Method: method, Reason: dec.Reason, Member: id.Name, PeerURL: id.PeerURL, ClusterToken: token}
	if method != dec.Method {
		rr.Reason = "restore pod forced (ForceRestorePod, no InProcess writer, or the recovery host is remote)"
	}
	if err := r.state.Update(ctx, func(d *StateData) { d.Restore = rr }); err != nil {
		return err
	}
	revJSON := movedTo(d, h.Name(), path.Join(r.opts.EtcdDataDir, "revision.json"))
	progress(fmt.Sprintf("restoring %s as member %s (%s), %s: %s", rec.Snapshot, id.Name, id.PeerURL, method, rr.Reason))

	switch method {
	case InProcess:
		snap, _ := h.LocalPath(path.Join(rec.Dir, rec.Snapshot))
		dataDir, _ := h.LocalPath(r.opts.EtcdDataDir)
		revFile := ""
		if revJSON != "" {
			revFile, _ = h.LocalPath(revJSON)
		}
		res, err := RestoreSnapshot(ctx, snap, dataDir, SnapshotOptions{
			Writer: r.deps.InProcess,
			Name:   id.Name, PeerURL: id.PeerURL, InitialClusterToken: token,
			RevisionBump: r.opts.RevisionBump, NoRevisionBump: r.opts.NoRevisionBump, RevisionFile: revFile,
			ClusterVersion: r.opts.ClusterVersion, BackupVersion: rec.ClusterVersion,
			AllowVersionMismatch: r.opts.AllowVersionMismatch,
			ClusterEtcdVersion:   dec.ClusterEtcdVersion,
			Logger:               r.log,
		})
		if err != nil {
			return err
		}
		progress(fmt.Sprintf("restored revision %d, bumped by %d to %d and marked compacted", res.Snapshot.Revision, res.RevisionBump, res.NewRevision))
		return r.state.Update(ctx, func(d *StateData) {
			d.Restore.RevisionBump, d.Restore.NewRevision = res.RevisionBump, res.NewRevision
		})
	default:
		return r.writeRestorePod(ctx, h, rec, d, id, token, revJSON, progress)
	}
}

// writeRestorePod stages the snapshot in EtcdBackupDir/snapshot.db and
// starts the restore pod: the cluster's own restore-etcd-pod when the host
// has it (as cluster-restore.sh does), else one built from the host's etcd
// pod by buildRestorePod. A snapshot.db already staged is used only when
// its content (sha256) is the backup's; any other one, left by an earlier
// attempt or by cluster-restore.sh, is moved aside first. The restore pod
// removes the staged copy once it restored it, as the cluster's does.
func (r *runner) writeRestorePod(ctx context.Context, h host.Host, rec *BackupRecord, d StateData, id memberIdentity, token, revJSON string, progress func(string)) error {
	step := "restore-snapshot/" + h.Name()
	staged := path.Join(r.opts.EtcdBackupDir, "snapshot.db")
	ownPod := false
	var manifest []byte
	if own, err := h.ReadFile(ctx, clusterRestorePodPath); err == nil {
		manifest, ownPod = own, true
		progress("using the cluster's restore pod " + clusterRestorePodPath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	} else {
		base, err := r.ownEtcdPod(ctx, d)
		if err != nil {
			return err
		}
		if base == nil {
			p, err := r.backupPodPath(d, "etcd")
			if err != nil {
				return err
			}
			if base, err = h.ReadFile(ctx, p); err != nil {
				return err
			}
		}
		var bump uint64
		if !r.opts.NoRevisionBump {
			bump = r.opts.RevisionBump
			if bump == 0 {
				var maxRaft uint64
				if revJSON != "" {
					if b, err := h.ReadFile(ctx, revJSON); err == nil {
						if rec, err := parseRevisionJSON(b); err == nil {
							maxRaft = rec.MaxRaftIndex
						}
					}
				}
				// The snapshot's consistent index bounds the revisions
				// issued after it together with maxRaftIndex; unreadable
				// (a remote host) leaves it 0 and the bump at the default.
				var ci uint64
				if p, ok := h.LocalPath(path.Join(rec.Dir, rec.Snapshot)); ok {
					ci, _ = snapshotConsistentIndex(ctx, p)
				}
				bump = revisionBumpFor(maxRaft, ci)
			}
		}
		manifest, err = buildRestorePod(base, restorePodConfig{Member: id, ClusterToken: token, RevisionBump: bump,
			SnapshotPath: staged, DataDir: r.opts.EtcdDataDir})
		if err != nil {
			return err
		}
		if err := r.state.Update(ctx, func(d *StateData) {
			d.Restore.RevisionBump, d.Restore.NewRevision = bump, rec.Revision+int64(bump)
		}); err != nil {
			return err
		}
		progress("restore pod built from the etcd pod, revision bump " + strconv.FormatUint(bump, 10))
	}
	// stop-static-pods moved every etcd-pod.yaml of before this run
	// aside: one with this content was written by this step, and the
	// restore pod may already have consumed the staged snapshot.
	if same, err := sameContent(ctx, h, path.Join(r.opts.ManifestDir, "etcd-pod.yaml"), manifest); err != nil {
		return err
	} else if same {
		return plan.Skip("the restore pod was started by an earlier attempt of this run")
	}
	if err := h.MkdirAll(ctx, r.opts.EtcdBackupDir, 0o700); err != nil {
		return err
	}
	if err := r.stageFile(ctx, h, step, path.Join(rec.Dir, rec.Snapshot), staged, progress); err != nil {
		return fmt.Errorf("staging the snapshot on %s: %w", h.Name(), err)
	}
	if ownPod {
		// The cluster's restore pod sizes its bump from
		// EtcdBackupDir/revision.json: it must be this run's.
		bump, err := r.stageRevisionJSON(ctx, h, step, rec, revJSON, progress)
		if err != nil {
			return err
		}
		if bump > 0 {
			if err := r.state.Update(ctx, func(d *StateData) {
				d.Restore.RevisionBump, d.Restore.NewRevision = bump, rec.Revision+int64(bump)
			}); err != nil {
				return err
			}
		}
	}
	progress("starting restore-etcd static pod")
	return r.putManifest(ctx, h, step, "etcd", manifest)
}

// stageRevisionJSON stages EtcdBackupDir/revision.json for the cluster's
// restore pod, which adds floor(1.2 × maxRaftIndex) read from that file to
// the snapshot's revision. On a cluster that was restored before that is
// too small (raft indexes restart at a restore, revisions do not; see
// revisionBumpFor), so the staged file is a copy of this run's revision.json
// (revJSON, moved out of the data directory) whose maxRaftIndex is scaled by
// podRaftIndexFor so that the pod's bump is at least
// revisionBumpFor(maxRaftIndex, the snapshot's consistent index), or
// Options.RevisionBump when set. The copy keeps the original's other fields
// and records the original's maxRaftIndex and path ("lifeboatOriginal...").
// The original is never edited: when it lies at the staged path it is
// first moved to AsideDir/revision-json. It returns the pod's bump (0 when
// there is no revision.json: any left by an earlier restore is moved aside,
// and the pod adds its default of one billion).
func (r *runner) stageRevisionJSON(ctx context.Context, h host.Host, step string, rec *BackupRecord, revJSON string, progress func(string)) (uint64, error) {
	dst := path.Join(r.opts.EtcdBackupDir, "revision.json")
	if revJSON == "" {
		if moved, err := r.moveAside(ctx, h, step, dst, path.Join(r.opts.AsideDir, "stale")); err != nil {
			return 0, err
		} else if moved {
			progress("moved a revision.json of an earlier restore out of " + r.opts.EtcdBackupDir)
		}
		return 0, nil
	}
	orig := revJSON
	if revJSON == dst {
		d, err := r.state.Get(ctx)
		if err != nil {
			return 0, err
		}
		if orig = movedTo(d, h.Name(), dst); orig == "" {
			if orig, err = r.moveAsideTo(ctx, h, step, dst, path.Join(r.opts.AsideDir, "revision-json")); err != nil {
				return 0, err
			}
		}
	}
	b, err := h.ReadFile(ctx, orig)
	if err != nil {
		return 0, fmt.Errorf("staging revision.json on %s: %w", h.Name(), err)
	}
	var ci uint64
	if p, ok := h.LocalPath(path.Join(rec.Dir, rec.Snapshot)); ok {
		ci, _ = snapshotConsistentIndex(ctx, p) // unreadable: 0, the bump of an unknown gap
	}
	want := r.opts.RevisionBump
	if want == 0 {
		rv, err := parseRevisionJSON(b)
		if err != nil {
			return 0, fmt.Errorf("staging revision.json on %s: %s: %w", h.Name(), orig, err)
		}
		want = revisionBumpFor(rv.MaxRaftIndex, ci)
	}
	staged, bump, err := scaledRevisionJSON(b, orig, want)
	if err != nil {
		return 0, fmt.Errorf("staging revision.json on %s: %s: %w", h.Name(), orig, err)
	}
	if same, err := sameContent(ctx, h, dst, staged); err != nil {
		return 0, err
	} else if !same {
		if moved, err := r.moveAside(ctx, h, step+"/stale-revision-json", dst, path.Join(r.opts.AsideDir, "stale")); err != nil {
			return 0, err
		} else if moved {
			progress("moved a revision.json of an earlier restore out of " + r.opts.EtcdBackupDir)
		}
		if err := h.WriteFile(ctx, dst, bytes.NewReader(staged), 0o644); err != nil {
			return 0, fmt.Errorf("staging revision.json on %s: %w", h.Name(), err)
		}
	}
	progress(fmt.Sprintf("staged %s for the cluster's restore pod: revision bump %d (the original is kept at %s)", dst, bump, orig))
	return bump, nil
}

// putManifest writes a static pod manifest into ManifestDir, moving aside
// a different one that is in the way.
func (r *runner) putManifest(ctx context.Context, h host.Host, step, comp string, content []byte) error {
	dst := path.Join(r.opts.ManifestDir, comp+"-pod.yaml")
	if same, err := sameContent(ctx, h, dst, content); err != nil {
		return err
	} else if same {
		return nil
	}
	if _, err := r.moveAside(ctx, h, step, dst, path.Join(r.opts.AsideDir, "manifests-replaced")); err != nil {
		return err
	}
	if err := h.MkdirAll(ctx, r.opts.ManifestDir, 0o755); err != nil {
		return err
	}
	return h.WriteFile(ctx, dst, bytes.NewReader(content), 0o644)
}

func (r *runner) startControlPlane(ctx context.Context, progress func(string)) error {
	return r.startComponents(ctx, "start-control-plane/"+r.deps.Recovery.Name(), startOrder, progress)
}

// startComponents puts the manifests of comps (in startOrder's order) into
// ManifestDir on the recovery host, recording moves under step.
func (r *runner) startComponents(ctx context.Context, step string, comps []string, progress func(string)) error {
	_, d, err := r.backup(ctx)
	if err != nil {
		return err
	}
	if d.Restore == nil {
		return errors.New("the state records no restore: run restore-snapshot first")
	}
	h := r.deps.Recovery
	for _, comp := range comps {
		var content []byte
		p, err := r.backupPodPath(d, comp)
		if err != nil {
			return err
		}
		if comp == "etcd" {
			if d.Restore.Method == RestorePod {
				continue // the restore pod is the etcd pod
			}
			// The backup's etcd manifest when it describes this member,
			// else the host's own (another master's manifest would start
			// etcd under the wrong name), as cluster-restore.sh puts the
			// host's manifest back after an etcdctl restore.
			if b, err := h.ReadFile(ctx, p); err == nil {
				if id, err := memberFromEtcdPod(b); err == nil && id.Name == d.Restore.Member && id.PeerURL == d.Restore.PeerURL {
					content = b
				}
			}
			if content == nil {
				own, err := r.ownEtcdPod(ctx, d)
				if err != nil {
					return err
				}
				if own == nil {
					return fmt.Errorf("neither %s nor the host's own etcd-pod.yaml describes member %s", p, d.Restore.Member)
				}
				content, p = own, "the host's own etcd-pod.yaml"
			}
		} else if content, err = h.ReadFile(ctx, p); err != nil {
			return fmt.Errorf("reading the backup's %s manifest: %w", comp, err)
		}
		if err := r.putManifest(ctx, h, step, comp, content); err != nil {
			return err
		}
		progress("starting " + comp + "-pod.yaml from " + p)
	}
	return nil
}
