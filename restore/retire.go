package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
)

// Why a state is retired; part of the retired file's name.
const (
	retiredFinished  = "finished"
	retiredAbandoned = "abandoned"
)

// retiredName is the name a state file at p takes when retired for why at
// t: "restore-state.json" becomes "restore-state.finished-20261130T095501Z.json".
func retiredName(p, why string, t time.Time) string {
	dir, base := path.Split(p)
	ext := path.Ext(base)
	return dir + strings.TrimSuffix(base, ext) + "." + why + "-" + t.UTC().Format("20060102T150405Z") + ext
}

// peek reads the state afresh and reports whether the file exists.
func (s *state) peek(ctx context.Context) (StateData, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = false
	if _, err := s.h.Stat(ctx, s.path); errors.Is(err, fs.ErrNotExist) {
		s.data, s.loaded = &StateData{Finished: map[string]time.Time{}}, true
		return *s.data, false, nil
	} else if err != nil {
		return StateData{}, false, fmt.Errorf("reading restore state %s on %s: %w", s.path, s.h.Name(), err)
	}
	if err := s.load(ctx); err != nil {
		return StateData{}, false, err
	}
	return *s.data, true, nil
}

// Retire renames the state file, kept for audit, to a name carrying why
// ("finished", "abandoned") and the time at (UTC), records that name in it
// first (RetiredTo), and leaves the state empty, so that the next run
// starts fresh. It returns the new path. A state already renamed by an
// interrupted Retire is found at its recorded name.
func (s *state) Retire(ctx context.Context, why string, at time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded = false
	if _, err := s.h.Stat(ctx, s.path); err != nil {
		return "", fmt.Errorf("retiring restore state %s on %s: %w", s.path, s.h.Name(), err)
	}
	if err := s.load(ctx); err != nil {
		return "", err
	}
	if s.data.RetiredTo == "" {
		to, err := freeName(ctx, s.h, retiredName(s.path, why, at))
		if err != nil {
			return "", err
		}
		s.data.RetiredTo = to
		if err := s.save(ctx); err != nil {
			return "", err
		}
	}
	to := s.data.RetiredTo
	if err := s.h.Move(ctx, s.path, to); err != nil {
		return "", fmt.Errorf("retiring restore state %s to %s on %s: %w", s.path, to, s.h.Name(), err)
	}
	s.data, s.loaded = &StateData{Finished: map[string]time.Time{}}, true
	return to, nil
}
