package restore

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// RunIdentity is what makes a restore run the run it is. It is recorded in
// the state by verify-backup; a later Run resumes that state only when it
// asks for the same identity, so an old run never stands in for a new one.
type RunIdentity struct {
	// BackupSHA256 is the sha256 of the backup snapshot's database (hex,
	// the trailer excluded), as verify-backup computed it.
	BackupSHA256 string `json:"backupSHA256"`
	// Snapshot is the snapshot's base name; informative only (the same
	// bytes under another name are the same backup).
	Snapshot string `json:"snapshot,omitempty"`
	// Recovery is the recovery host's node name.
	Recovery string `json:"recovery"`
	// Others and LostMasters are node names, sorted.
	Others      []string `json:"others,omitempty"`
	LostMasters []string `json:"lostMasters,omitempty"`
	// Method is the restore method the run uses (in-process or the
	// restore pod), as decided from the backup, the cluster's etcd version
	// and Options.ForceRestorePod.
	Method Method `json:"method"`
}

func (id RunIdentity) String() string {
	return fmt.Sprintf("backup %s (sha256 %s), recovery host %s, other masters [%s], lost masters [%s], method %s",
		orUnknown(id.Snapshot), shortHash(id.BackupSHA256), id.Recovery, strings.Join(id.Others, " "),
		strings.Join(id.LostMasters, " "), id.Method)
}

// Differences names the fields in which id and other differ; none means
// they are the same run.
func (id RunIdentity) Differences(other RunIdentity) []string {
	var out []string
	if id.BackupSHA256 != other.BackupSHA256 {
		out = append(out, "backup sha256")
	}
	if id.Recovery != other.Recovery {
		out = append(out, "recovery host")
	}
	if !slices.Equal(sortedCopy(id.Others), sortedCopy(other.Others)) {
		out = append(out, "other masters")
	}
	if !slices.Equal(sortedCopy(id.LostMasters), sortedCopy(other.LostMasters)) {
		out = append(out, "lost masters")
	}
	if id.Method != other.Method {
		out = append(out, "method")
	}
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// identityOf is the identity of this run with the verified backup rec.
func (r *runner) identityOf(rec *BackupRecord) (RunIdentity, error) {
	d, err := r.decide(rec)
	if err != nil {
		return RunIdentity{}, err
	}
	id := RunIdentity{
		BackupSHA256: rec.SHA256,
		Snapshot:     rec.Snapshot,
		Recovery:     r.deps.Recovery.Name(),
		LostMasters:  sortedCopy(r.opts.LostMasters),
		Method:       r.method(d),
	}
	for _, h := range r.deps.Others {
		id.Others = append(id.Others, h.Name())
	}
	slices.Sort(id.Others)
	return id, nil
}

// requestedIdentity verifies the backup the options name, as verify-backup
// does (it reads the whole snapshot), and returns the identity of the run
// the options ask for.
func (r *runner) requestedIdentity(ctx context.Context) (RunIdentity, error) {
	rec, _, err := r.checkBackup(ctx, func(msg string) { r.log.Debug("checking the backup against the recorded run", "msg", msg) })
	if err != nil {
		return RunIdentity{}, fmt.Errorf("verifying the backup to compare it with the state on %s: %w", r.deps.Recovery.Name(), err)
	}
	return r.identityOf(rec)
}

// shortHash is the first 12 hex digits of a digest, for messages.
func shortHash(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
