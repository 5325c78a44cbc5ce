package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// reportLocal prints what a backup in dir holds after verifying it as a
// restore will (backup.Verify), and returns the exit code.
func reportLocal(ctx context.Context, b *backup.Backup, dir string, log *slog.Logger, stdout, stderr io.Writer) int {
	if b.Proxy.Enabled() {
		fmt.Fprintf(stdout, "cluster-wide proxy: export %s\n", strings.Join(b.Proxy.Env(), " "))
	}
	for _, w := range b.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "verifying %s\n", dir)
	if _, err := backup.Verify(ctx, dir, backup.VerifyOptions{Timestamp: b.Timestamp, Logger: log}); err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "snapshot  %s (%d bytes, revision %d, etcd %s, sha256 %s)\n", b.Snapshot.Path, b.Snapshot.Size, b.Revision, b.EtcdVersion, b.Snapshot.SHA256)
	fmt.Fprintf(stdout, "resources %s (sha256 %s)\n", b.Resources.Path, b.Resources.SHA256)
	if b.ClusterVersion != "" {
		fmt.Fprintf(stdout, "cluster version %s: restore this backup on %s only\n", b.ClusterVersion, b.ClusterVersion)
	}
	fmt.Fprintf(stdout, "snapshot db and kube resources are successfully saved to %s\n", dir)
	return exitOK
}
