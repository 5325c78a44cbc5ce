package offsite

import (
	"context"
	"path/filepath"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// streamPrechecks makes backup.TakePlan's pre-checks and fills b's cluster
// fields; it returns the cluster information (nil without Config).
func streamPrechecks(ctx context.Context, opts *StreamOptions, t time.Time, b *backup.Backup, warn func(string, ...any)) (*backup.ClusterInfo, error) {
	if opts.Force {
		warn("Force: ClusterOperators not checked; files marked %s", backup.DirtyMarker)
	} else if err := backup.CheckOperators(ctx, opts.Config); err != nil {
		return nil, err
	}
	if opts.Config == nil {
		warn("no Kubernetes API client: cluster version, proxy and encryption not recorded, certificate rotation not checked")
		return nil, nil
	}
	info, err := backup.ReadClusterInfo(ctx, opts.Config)
	if err != nil {
		if !opts.Force {
			return nil, err
		}
		warn("cluster information unavailable, not recorded: %v", err)
		return nil, nil
	}
	b.Proxy, b.ClusterVersion = info.Proxy, info.Version
	if opts.MinClusterAge >= 0 {
		if err := backup.CheckCertificateRotation(info, t, opts.MinClusterAge); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// streamLocalManifest is the backup.json of a streamed backup, and fills
// b's files and versions.
func streamLocalManifest(b *backup.Backup, stamp string, t time.Time, force bool, info *backup.ClusterInfo,
	sr *backup.SnapshotResult, rr *backup.ResourcesResult, snap, res Object) *backup.Manifest {
	path := func(name string) string {
		if b.Dir == "" {
			return ""
		}
		return filepath.Join(b.Dir, name)
	}
	b.Snapshot = backup.BackupFile{Name: snap.Name, Path: path(snap.Name), Size: sr.Size, SHA256: sr.SHA256}
	b.Resources = backup.BackupFile{Name: res.Name, Path: path(res.Name), Size: rr.Size, SHA256: rr.SHA256}
	b.ResourceDirs = rr.Dirs
	b.Revision, b.EtcdVersion = sr.Revision, sr.EtcdVersion
	m := &backup.Manifest{
		Format:            backup.ManifestFormat,
		Timestamp:         stamp,
		CreatedAt:         t.UTC(),
		PossiblyDirty:     force,
		EtcdVersion:       sr.EtcdVersion,
		EtcdServerVersion: sr.ServerVersion,
		Revision:          sr.Revision,
		DBSize:            sr.DBSize,
		Member:            sr.Member,
		LifeboatVersion:   backup.Version(),
		Snapshot:          backup.ManifestFile{Name: snap.Name, Size: sr.Size, SHA256: sr.SHA256, DBSHA256: sr.DBSHA256},
		Resources:         backup.ManifestFile{Name: res.Name, Size: rr.Size, SHA256: rr.SHA256},
		ResourceDirs:      rr.Dirs,
	}
	if info != nil {
		m.ClusterVersion = info.Version
		m.Encryption = info.Encryption
		m.EncryptionEnabled = info.EncryptionEnabled()
	}
	return m
}
