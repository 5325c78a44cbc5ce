package freshness

import (
	"time"
	"unicode/utf8"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Scrub is one scrub of the backups stored at a destination, as
// offsite.Scrub reports it:
//
//	rep, err := offsite.Scrub(ctx, dest, offsite.ScrubOptions{})
//	if err == nil {
//		rec.RecordScrub(freshness.Scrub{Destination: "s3", Finished: rep.Finished,
//			Backups: len(rep.Backups), Corrupt: rep.Corrupt + rep.Missing})
//	}
type Scrub struct {
	// Destination is the caller's name for the destination, as in
	// Attempt.Destination. Required, valid UTF-8.
	Destination string
	// Finished is when the scrub finished. Required.
	Finished time.Time
	// Backups is the number of backups checked, Corrupt the number found
	// corrupt or missing (at most Backups).
	Backups, Corrupt int
}

// RecordScrub records a scrub as the destination's last one, unless a
// scrub that finished later is already recorded. Errors wrap lifeboat.ErrInvalidOptions
// (nil Recorder, no destination or one that is not valid UTF-8, no
// Finished time, negative counts or more corrupt than checked); nothing
// is recorded then.
func (r *Recorder) RecordScrub(s Scrub) error {
	switch {
	case r == nil:
		return opterr.Nil("freshness.Recorder")
	case s.Destination == "":
		return opterr.Nil("freshness.Scrub.Destination")
	case !utf8.ValidString(s.Destination):
		return opterr.New("freshness.Scrub.Destination", "is not valid UTF-8")
	case s.Finished.IsZero():
		return opterr.New("freshness.Scrub.Finished", "is zero")
	case s.Backups < 0:
		return opterr.New("freshness.Scrub.Backups", "%d is negative", s.Backups)
	case s.Corrupt < 0:
		return opterr.New("freshness.Scrub.Corrupt", "%d is negative", s.Corrupt)
	case s.Corrupt > s.Backups:
		return opterr.New("", "freshness.Scrub.Corrupt (%d) is more than freshness.Scrub.Backups (%d)", s.Corrupt, s.Backups)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.initLocked()
	st := r.state[s.Destination]
	if !s.Finished.Before(st.LastScrub) {
		st.LastScrub, st.ScrubBackups, st.ScrubCorrupt = s.Finished, s.Backups, s.Corrupt
	}
	r.state[s.Destination] = st
	return nil
}
