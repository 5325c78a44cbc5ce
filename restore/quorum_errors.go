package restore

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/lifeboat-dev/lifeboat/release"
)

// Sentinels of the quorum restore (RunQuorumRestore); the typed errors
// below wrap them. Nothing was changed on any host when one of them is
// returned by the plan's check step.
var (
	// ErrNotMemberDir: the recovery host's data directory holds no etcd
	// member (member/snap/db and member/wal): there is nothing to restore
	// quorum from. Restore from a backup instead (Run).
	ErrNotMemberDir = errors.New("the recovery host's etcd data directory holds no member")
	// ErrOthersNotStopped: a control-plane host other than the recovery
	// host can neither be reached (to stop its etcd and prove it stopped)
	// nor was attested as stopped (QuorumRestoreOptions.Unreachable). A
	// member left running could form a second cluster beside the forced
	// one (a split brain).
	ErrOthersNotStopped = errors.New("other control-plane hosts are not proven stopped")
	// ErrNoQuorumRestore: the cluster's release has no quorum restore
	// procedure (quorum-restore.sh came with 4.18).
	ErrNoQuorumRestore = errors.New("the cluster's release has no quorum restore procedure")
)

// NotMemberDirError names the host, the data directory and what is
// missing. It matches ErrNotMemberDir.
type NotMemberDirError struct {
	Host    string
	Dir     string
	Missing []string
}

func (e *NotMemberDirError) Error() string {
	return fmt.Sprintf("%v: %s:%s lacks %s; without a surviving member's data, restore from a backup (restore.Run)",
		ErrNotMemberDir, e.Host, e.Dir, strings.Join(e.Missing, ", "))
}

func (e *NotMemberDirError) Is(target error) bool { return target == ErrNotMemberDir }

// OthersNotStoppedError names every other control-plane host the plan
// cannot prove stopped, and why. It matches ErrOthersNotStopped.
type OthersNotStoppedError struct {
	// Hosts maps a node name to the reason it is not proven stopped.
	Hosts map[string]string
}

func (e *OthersNotStoppedError) Error() string {
	var names []string
	for n := range e.Hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " (" + e.Hosts[n] + ")"
	}
	return fmt.Sprintf("%v: %s; give each as a reachable host in Others, or, once it is powered off, in Unreachable with the evidence (unsafe: a running member splits the cluster)",
		ErrOthersNotStopped, strings.Join(parts, "; "))
}

func (e *OthersNotStoppedError) Is(target error) bool { return target == ErrOthersNotStopped }

// QuorumRestoreReleaseError refuses the quorum restore on a release
// without it, naming the decision and the alternative. It matches
// ErrNoQuorumRestore. QuorumRestoreOptions.Validate (and so
// QuorumRestorePlan) returns it, as the cause of a
// *lifeboat.OptionsError, for a stated release (its Decision is Overridden);
// the plan's check step, inside a *PreflightError, for a detected one.
type QuorumRestoreReleaseError struct {
	Decision release.Decision
}

func (e *QuorumRestoreReleaseError) Error() string {
	found, fix := "lifeboat found", "if the evidence is wrong, state the release with Options.Release.Version"
	if e.Decision.Overridden {
		found, fix = "the options state", "state the release the cluster runs, or none to let lifeboat detect it"
	}
	return fmt.Sprintf("%v: %s %s (release %s); quorum-restore.sh and its force-new-cluster pod exist from 4.18 on. "+
		"On %s restore a backup with the classic procedure (restore.Run, \"Restoring to a previous cluster state\"); %s",
		ErrNoQuorumRestore, found, e.Decision.String(), orUnknown(e.Decision.Version), release.GenerationClassic.Releases(), fix)
}

func (e *QuorumRestoreReleaseError) Is(target error) bool { return target == ErrNoQuorumRestore }
