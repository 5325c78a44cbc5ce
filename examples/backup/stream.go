package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/examples/internal/cli"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// newProgress is the progress display the -progress flag asks for.
func newProgress(w io.Writer, mode string, every time.Duration) (*cli.Progress, error) {
	opts := cli.ProgressOptions{Interval: every}
	switch mode {
	case "auto":
	case "bar", "plain":
		bar := mode == "bar"
		opts.Terminal = &bar
	default:
		return nil, fmt.Errorf("-progress %q: want auto, bar or plain", mode)
	}
	return cli.NewProgress(w, opts), nil
}

// streamBackup runs offsite.Stream with progress and prints what it
// stored; it returns the result (nil on failure) and the exit code.
func streamBackup(ctx context.Context, etcd backup.SnapshotClient, opts offsite.StreamOptions, prog *cli.Progress, stdout, stderr io.Writer) (*offsite.StreamResult, int) {
	// Stream reports its bytes through ctx (plan.ReportBytes), one
	// transfer per object, named in the message ("streaming
	// snapshot_<stamp>.db", "reading back ...", "(attempt 2)").
	var current string
	ctx = plan.WithReport(ctx, func(e plan.Event) {
		if e.BytesDone == 0 && e.BytesTotal == 0 {
			return
		}
		if e.Message != current && current != "" {
			prog.Done(current)
		}
		current = e.Message
		prog.Update(e.Message, e.BytesDone, e.BytesTotal)
	})
	fmt.Fprintf(stdout, "streaming the backup to %s\n", opts.Destination.String())
	res, err := offsite.Stream(ctx, etcd, opts)
	if current != "" {
		prog.Done(current)
	}
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		var pe *backup.PrecheckError
		switch {
		case errors.As(err, &pe):
			return nil, exitPrecheck
		case errors.Is(err, lifeboat.ErrInvalidOptions):
			return nil, exitUsage
		}
		return nil, exitFailed
	}
	b, m := res.Backup, res.Manifest
	if b.Proxy.Enabled() {
		fmt.Fprintf(stdout, "cluster-wide proxy: export %s\n", strings.Join(b.Proxy.Env(), " "))
	}
	for _, w := range b.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	for _, o := range m.Objects {
		ratio := 0.0
		if o.StoredSize > 0 {
			ratio = float64(o.Size) / float64(o.StoredSize)
		}
		fmt.Fprintf(stdout, "%-9s %s (%s, stored as %s: %s, %.2fx; sha256 %s)\n", o.Role, o.Key, cli.Bytes(o.Size), o.Codec, cli.Bytes(o.StoredSize), ratio, o.SHA256)
	}
	if b.ClusterVersion != "" {
		fmt.Fprintf(stdout, "cluster version %s: restore this backup on %s only\n", b.ClusterVersion, b.ClusterVersion)
	}
	if opts.LocalDir != "" {
		fmt.Fprintf(stdout, "snapshot db and kube resources are successfully saved to %s\n", opts.LocalDir)
	}
	fmt.Fprintf(stdout, "backup %s (revision %d) is stored and verified at %s\n", m.ID, m.Revision, opts.Destination.String())
	return res, exitOK
}
