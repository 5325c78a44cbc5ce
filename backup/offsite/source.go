package offsite

import (
	"context"
	"fmt"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// RestoreSource is a backup at a destination as the restore reads it:
// set a *RestoreSource as restore.Options.Source (it implements
// restore.Source without either package importing the other), and the
// restore's verify-backup step fetches the backup with Fetch, verified,
// before it touches any host; a wrong identity, an altered, truncated or
// swapped object and a damaged manifest refuse the restore there.
type RestoreSource struct {
	// ID is the backup to restore (Listed.ID, a backup stamp); "" means
	// the newest backup List reports as verified.
	ID string
	// Options are Fetch's: Source (the destination) and Identities are
	// required; Resources when the archive went to another destination.
	Options FetchOptions
}

// Validate checks the source without any I/O (FetchOptions.Validate and
// the ID); errors wrap lifeboat.ErrInvalidOptions.
func (s *RestoreSource) Validate() error {
	if s == nil {
		return opterr.New("", "nil RestoreSource")
	}
	if err := s.Options.Validate(); err != nil {
		return err
	}
	if s.ID != "" && !idRE.MatchString(s.ID) {
		return opterr.New("", "backup ID %q is not a backup stamp (YYYY-MM-DD_HHMMSS)", s.ID)
	}
	return nil
}

// Fetch is Fetch(ctx, s.ID, dir, s.Options): see there for the checks,
// done before anything is written to dir, and the errors. progress, when
// not nil, is told each tenth of each object downloaded
// ("snapshot_<stamp>.db: 40% (12 MiB of 30 MiB stored)"), besides
// s.Options.Progress.
func (s *RestoreSource) Fetch(ctx context.Context, dir string, progress func(string)) (*backup.Backup, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	opts := s.Options
	if progress != nil {
		user := opts.Progress
		told := map[string]int64{}
		opts.Progress = func(p Progress) {
			if user != nil {
				user(p)
			}
			if p.Total <= 0 {
				return
			}
			if tenth := min(p.Done*10/p.Total, 10); tenth > told[p.Name] {
				told[p.Name] = tenth
				progress(fmt.Sprintf("%s: %d%% (%s of %s stored)", p.Name, tenth*10, mib(p.Done), mib(p.Total)))
			}
		}
	}
	return Fetch(ctx, s.ID, dir, opts)
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// String names the backup and its destination (never a URL's query).
func (s *RestoreSource) String() string {
	if s == nil {
		return "<no source>"
	}
	id := s.ID
	if id == "" {
		id = "the newest verified backup"
	}
	return id + " at " + s.Options.Source.String()
}
