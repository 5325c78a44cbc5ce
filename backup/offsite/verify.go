package offsite

import (
	"context"
	"fmt"
	"os"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// Verify is backup.Verify for a backup at a destination: it fetches the
// backup id ("" the newest verified) with Fetch into a new directory
// under tempDir ("" means os.TempDir(); it needs room for the
// uncompressed backup), so every check of Fetch and of backup.Verify
// (the bolt check unless opts.SkipDBCheck) is applied, then removes the
// directory. The returned description's Dir and paths name the removed
// directory. Scrub with Identities applies the same checks but the bolt
// check, streaming, without any disk.
//
// Errors are Fetch's: lifeboat.ErrInvalidOptions before any I/O, else an
// *ObjectError wrapping the sentinels, or ctx's error.
func Verify(ctx context.Context, id, tempDir string, opts FetchOptions) (*backup.Backup, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if id != "" && !idRE.MatchString(id) {
		return nil, opterr.New("offsite.Verify id", "%q is not a backup stamp (YYYY-MM-DD_HHMMSS)", id)
	}
	dir, err := os.MkdirTemp(tempDir, "lifeboat-verify-")
	if err != nil {
		return nil, fmt.Errorf("offsite: verify: creating a directory to fetch into: %w", err)
	}
	defer os.RemoveAll(dir)
	return Fetch(ctx, id, dir, opts)
}
