package restore

import (
	"fmt"
	"github.com/lifeboat-dev/lifeboat/member"
	"strings"
	"time"
)

// AnotherRunError names both runs when Run finds an unfinished state of
// another run at StatePath on the recovery host. Resume the old run by
// calling Run with its options again, or abandon it: set
// Options.AbandonUnfinished (the old state is renamed AbandonedPath, kept
// for audit, its moves still listed there, as StateData.Moves), or move the
// file yourself (the error message gives the command). It matches
// member.ErrAnotherRunUnfinished.
type AnotherRunError struct {
	// Host and StatePath locate the old run's state.
	Host      string
	StatePath string
	// Unfinished is the old run's identity; nil when its state predates
	// run identities (an older lifeboat wrote it).
	Unfinished *RunIdentity
	// Started is when the old run began; Steps counts its finished steps
	// and Moves the files it moved aside.
	Started time.Time
	Steps   int
	Moves   int
	// Requested is the identity of the run asked for.
	Requested RunIdentity
	// Differences names the fields that differ ("backup sha256", ...).
	Differences []string
	// AbandonedPath is where Options.AbandonUnfinished would move the old
	// state.
	AbandonedPath string
}

func (e *AnotherRunError) Error() string {
	old := "an unknown run (its state records no identity)"
	if e.Unfinished != nil {
		old = e.Unfinished.String()
	}
	return fmt.Sprintf("%v: %s on %s holds an unfinished restore started %s (%d steps finished, %d files moved aside): %s; "+
		"this run is %s (differs in %s). Resume the old run with its own options, or abandon it: "+
		"set Options.AbandonUnfinished (restore -abandon-unfinished), or on %s run `mv %s %s`; "+
		"the old state keeps the list of moved files (its \"moves\")",
		member.ErrAnotherRunUnfinished, e.StatePath, e.Host, e.Started.UTC().Format(time.RFC3339), e.Steps, e.Moves, old,
		e.Requested.String(), strings.Join(e.Differences, ", "), e.Host, e.StatePath, e.AbandonedPath)
}

// Is matches member.ErrAnotherRunUnfinished: the kind of this error (see package lifeboat, Errors).
func (e *AnotherRunError) Is(target error) bool { return target == member.ErrAnotherRunUnfinished }
