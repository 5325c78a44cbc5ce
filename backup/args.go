package backup

import (
	"cmp"
	"path/filepath"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// The checks the single calls of this package (Snapshot, SnapshotTo,
// ArchiveStaticResources, ...) run on their arguments before any I/O, as
// TakePlan's Validate does for a whole backup: each refusal is a
// *lifeboat.OptionsError naming the argument ("backup.Snapshot c") or the
// option ("backup.SnapshotOptions.Name").

// plainName refuses a file name option that is not one plain name inside
// its directory ("" is the default name and allowed): a name with a
// separator, "." or "..", a NUL byte or a newline would write outside the
// directory or under a name no script finds.
func plainName(option, name string) error {
	if name == "" {
		return nil
	}
	if name == "." || name == ".." || filepath.Base(name) != name || strings.ContainsAny(name, "/\\\x00\n\r") {
		return opterr.New(option, "%q is not a plain file name", name)
	}
	return nil
}

// check refuses SnapshotOptions Snapshot and SnapshotTo cannot use.
func (o SnapshotOptions) check() error {
	return cmp.Or(
		plainName("backup.SnapshotOptions.Name", o.Name),
		opterr.Negative("backup.SnapshotOptions.BufferSize", o.BufferSize),
		opterr.Negative("backup.SnapshotOptions.StatusTimeout", o.StatusTimeout),
	)
}
