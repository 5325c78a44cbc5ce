package backup

import (
	"context"
	"io"
	"log/slog"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// ArchiveStaticResourcesTo writes the archive ArchiveStaticResources
// would write (same directories, same tar.gz bytes layout) into w instead
// of a file, for a caller that streams it elsewhere (package
// backup/offsite compresses, encrypts and uploads it with nothing staged
// on the master's disk). opts.Name and Now are ignored; the result has no
// Path. Errors are those of ArchiveStaticResources, and w's.
func ArchiveStaticResourcesTo(ctx context.Context, h host.Host, w io.Writer, opts ResourcesOptions) (*ResourcesResult, error) {
	switch {
	case h == nil:
		return nil, opterr.Nil("backup.ArchiveStaticResourcesTo h")
	case w == nil:
		return nil, opterr.Nil("backup.ArchiveStaticResourcesTo w")
	}
	log := logger(opts.Logger)
	cfg := opts.ConfigDir
	if cfg == "" {
		cfg = DefaultConfigDir
	}
	comps := opts.Components
	if comps == nil {
		comps = Components()
	}
	res := &ResourcesResult{}
	if err := findResourceDirs(ctx, h, cfg, comps, res, log); err != nil {
		return nil, err
	}
	if err := writeArchive(ctx, h, w, cfg, res); err != nil {
		return nil, err
	}
	log.Info("static pod resources streamed", "bytes", res.Size)
	return res, nil
}

// findResourceDirs finds the latest resource directory of each component
// into res.Dirs (and res.Fallbacks).
func findResourceDirs(ctx context.Context, h host.Host, cfg string, comps []string, res *ResourcesResult, log *slog.Logger) error {
	for _, c := range comps {
		rd, err := latestResourceDir(ctx, h, cfg, c)
		if err != nil {
			return err
		}
		if rd.Source == sourceHighest {
			log.Warn("static pod manifest missing; archiving the highest revision on disk", "component", c, "path", rd.Path)
			res.Fallbacks = append(res.Fallbacks, c)
		}
		log.Info("found latest "+c+"-pod", "path", rd.Path, "revision", rd.Revision, "source", rd.Source)
		res.Dirs = append(res.Dirs, rd)
	}
	return nil
}
