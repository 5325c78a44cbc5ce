package restore

import (
	"context"
	"fmt"
	"os"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// Source is a backup kept away from the cluster (object storage: the
// backup/offsite package's RestoreSource implements it), brought to the
// machine running lifeboat by verify-backup before any other check and
// before any host is touched. Package restore does not import the
// storage clients: a caller that restores from a local directory never
// links them.
type Source interface {
	// Validate checks the source's settings without any I/O; Plan and
	// Run call it with the other options, before any side effect.
	Validate() error
	// Fetch downloads the backup into dir, an existing empty local
	// directory, reporting the bytes it moves through ctx
	// (plan.ReportBytes: the step's Progress events) and, when progress is
	// not nil, may tell it other short lines, in the cluster-backup.sh
	// layout (snapshot_<stamp>.db,
	// static_kuberesources_<stamp>.tar.gz and backup.json when the backup
	// has one), and returns backup's description of it. It must verify
	// everything it downloads (decryption, checksums, the snapshot's
	// sha256 trailer) and leave dir without the backup's files when
	// anything fails; its error is returned wrapped by a
	// *PreflightError of Check "source", so its own typed errors (for
	// offsite: an *offsite.ObjectError with offsite.ErrWrongIdentity or
	// ErrMismatch, backup.ErrHashMismatch, ErrTruncated or ErrBadManifest,
	// retention.ErrNotFound) match with errors.Is and errors.As. It
	// honours ctx.
	Fetch(ctx context.Context, dir string, progress func(string)) (*backup.Backup, error)
	// String names the source in messages; never a secret (a URL's
	// query, a key).
	String() string
}

// validateSource checks the Source options: a Source excludes BackupDir
// and BackupOnHost (one backup per run), and is valid itself.
func validateSource(o Options) error {
	if o.Source == nil {
		if o.FetchDir != "" {
			return opterr.New(o.opt("FetchDir"), "is only used with a Source")
		}
		return nil
	}
	if o.BackupDir != "" || o.BackupOnHost != "" {
		return opterr.New("", "restore.Options.Source excludes restore.Options.BackupDir and restore.Options.BackupOnHost (one backup per restore)")
	}
	if err := o.Source.Validate(); err != nil {
		return opterr.New(o.opt("Source"), "%w", err)
	}
	return nil
}

// fetchSource is the first act of checkBackup (and so of verify-backup,
// also in a dry run, and of the identity check of a resumed run) when
// the backup comes from a Source: it fetches the backup, verified, into
// a new directory under FetchDir on this machine and makes that the
// restore's BackupDir; copy-backup then copies it to the recovery host
// like any local backup. Nothing is written on any host. Once per Run:
// the fetched directory is kept until Run returns (removeFetched).
func (r *runner) fetchSource(ctx context.Context, progress func(string)) error {
	if r.opts.Source == nil || r.opts.BackupDir != "" {
		return nil
	}
	src := r.opts.Source.String()
	dir, err := os.MkdirTemp(r.opts.FetchDir, "lifeboat-fetch-")
	if err != nil {
		return &PreflightError{Check: "source", Err: fmt.Errorf("creating a local directory to fetch the backup from %s into: %w", src, err)}
	}
	progress("fetching the backup from " + src + " into " + dir + " (decrypted, decompressed and verified as it streams)")
	b, err := r.opts.Source.Fetch(ctx, dir, progress)
	if err != nil {
		os.RemoveAll(dir)
		return &PreflightError{Check: "source", Err: fmt.Errorf("fetching the backup from %s: %w", src, err)}
	}
	progress(fmt.Sprintf("fetched %s (%d bytes, sha256 %s) and %s from %s", b.Snapshot.Name, b.Snapshot.Size, short(b.Snapshot.SHA256), b.Resources.Name, src))
	r.opts.BackupDir = dir
	return nil
}

// removeFetched removes the directory fetchSource filled, if any.
func (r *runner) removeFetched() {
	if r.opts.Source == nil || r.opts.BackupDir == "" {
		return
	}
	if err := os.RemoveAll(r.opts.BackupDir); err != nil {
		r.log.Warn("removing the fetched backup", "dir", r.opts.BackupDir, "err", err)
	}
	r.opts.BackupDir = ""
}
