// Package inprocess restores an etcd snapshot into a data directory in
// this process, with etcd's etcdutl library (the code behind "etcdutl
// snapshot restore", of the etcd version in lifeboat's go.mod).
//
// It is the heavy half of package restore's in-process restore, kept apart
// so that importing restore does not build the etcd server: pass
// [WriteDataDir] as restore.Deps.InProcess (the plan) or
// restore.SnapshotOptions.Writer (restore.RestoreSnapshot). Without it the
// plan restores through the restore pod, with the cluster's own etcd image.
//
// Errors are etcdutl's (text), wrapped with the snapshot and directory;
// restore.RestoreSnapshot turns a hash mismatch into its own typed error.
package inprocess

import (
	"context"

	"github.com/lifeboat-dev/lifeboat/restore"
	"github.com/lifeboat-dev/lifeboat/restore/internal/etcdutlwrite"
)

var _ restore.DataDirWriter = WriteDataDir

// WriteDataDir writes spec.OutputDir, the data directory of a new
// single-member cluster (spec.Name=spec.PeerURL, token spec.ClusterToken),
// from the snapshot spec.SnapshotPath, adding spec.RevisionBump to its
// revision and marking that revision compacted when the bump is not 0. It
// is a restore.DataDirWriter. etcdutl cannot be interrupted: ctx is
// checked before it starts.
func WriteDataDir(ctx context.Context, spec restore.DataDirSpec) error {
	return etcdutlwrite.Write(ctx, etcdutlwrite.Config(spec))
}
