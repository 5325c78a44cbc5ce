// Package etcdutlwrite is the one call into etcd's etcdutl library behind
// restore/inprocess. It does not import restore, so restore's own tests
// can use it too (they cannot import restore/inprocess, which imports
// restore); Config has restore.DataDirSpec's fields, in its order, so one
// converts to the other.
package etcdutlwrite

import (
	"context"
	"fmt"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// Config mirrors restore.DataDirSpec field for field (documented there).
type Config struct {
	SnapshotPath  string
	OutputDir     string
	Name          string
	PeerURL       string
	ClusterToken  string
	SkipHashCheck bool
	RevisionBump  uint64
}

// Write runs "etcdutl snapshot restore" in process for c (see
// restore.DataDirWriter). etcdutl cannot be interrupted: ctx is checked
// before it starts.
func Write(ctx context.Context, c Config) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cfg := snapshot.RestoreConfig{
		SnapshotPath:        c.SnapshotPath,
		Name:                c.Name,
		OutputDataDir:       c.OutputDir,
		PeerURLs:            []string{c.PeerURL},
		InitialCluster:      c.Name + "=" + c.PeerURL,
		InitialClusterToken: c.ClusterToken,
		SkipHashCheck:       c.SkipHashCheck,
		RevisionBump:        c.RevisionBump,
		MarkCompacted:       c.RevisionBump > 0,
	}
	if err := snapshot.NewV3(zap.NewNop()).Restore(cfg); err != nil {
		return fmt.Errorf("etcdutl restore of %s into %s: %w", c.SnapshotPath, c.OutputDir, err)
	}
	return nil
}
