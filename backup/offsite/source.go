package offsite

import (
	"context"

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
// the ID); errors wrap lifeboat.ErrInvalidOptions. Unlike the options
// structs' Validate it has a pointer receiver, as Fetch and String: a
// *RestoreSource is what restore.Options.Source holds, and a nil one is
// refused ("offsite.RestoreSource") rather than a panic.
func (s *RestoreSource) Validate() error {
	if s == nil {
		return opterr.Nil("offsite.RestoreSource")
	}
	if err := s.Options.validate("offsite.RestoreSource.Options"); err != nil {
		return err
	}
	if s.ID != "" && !idRE.MatchString(s.ID) {
		return opterr.New("offsite.RestoreSource.ID", "%q is not a backup stamp (YYYY-MM-DD_HHMMSS)", s.ID)
	}
	return nil
}

// Fetch is Fetch(ctx, s.ID, dir, s.Options): see there for the checks,
// done before anything is written to dir, and the errors. Its progress
// goes through ctx, as Fetch's does: plan.ReportBytes, one transfer per
// object ("downloading snapshot_<stamp>.db", stored bytes), which are
// Progress events with bytes of the restore's verify-backup step. The
// progress lines restore.Source offers are left to the restore's own
// messages, so every byte is reported once.
func (s *RestoreSource) Fetch(ctx context.Context, dir string, _ func(string)) (*backup.Backup, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return Fetch(ctx, s.ID, dir, s.Options)
}

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
