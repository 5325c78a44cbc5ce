package retention

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// memStore is an in-memory Store: backups it lists, and other objects it
// holds but never lists (as a bucket holds files that are not lifeboat's).
type memStore struct {
	mu       sync.Mutex
	backups  map[string]Backup
	others   map[string]bool
	deleted  []string
	listErr  error
	failOn   map[string]error // Delete(id) returns this
	onDelete func(id string)  // called before each deletion
}

func newMemStore(bs ...Backup) *memStore {
	s := &memStore{backups: map[string]Backup{}, others: map[string]bool{}, failOn: map[string]error{}}
	for _, b := range bs {
		s.backups[b.ID] = b
	}
	return s
}

func (s *memStore) List(ctx context.Context) ([]Backup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, s.listErr
	}
	return slices.Collect(maps.Values(s.backups)), ctx.Err()
}

func (s *memStore) Delete(ctx context.Context, id string) error {
	if s.onDelete != nil {
		s.onDelete(id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.failOn[id]; err != nil {
		return err
	}
	if s.others[id] {
		panic("deleted an object that is not a backup: " + id)
	}
	if _, ok := s.backups[id]; !ok {
		return fmt.Errorf("delete %s: %w", id, ErrNotFound)
	}
	delete(s.backups, id)
	s.deleted = append(s.deleted, id)
	return nil
}

func (s *memStore) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.backups))
}

// six verified daily backups b0 (newest) .. b5, one unverified u older
// than b0, and objects that are not backups.
func sixDays() *memStore {
	var bs []Backup
	for i := range 6 {
		bs = append(bs, Backup{ID: fmt.Sprintf("b%d", i), Taken: at(-24 * i), Verified: true})
	}
	bs = append(bs, Backup{ID: "u", Taken: at(-30)})
	s := newMemStore(bs...)
	s.others["README"], s.others["other-tool/backup"] = true, true
	return s
}

func TestApply(t *testing.T) {
	policy := Policy{KeepLast: 3}
	opts := ApplyOptions{Options: fixedNow()}

	t.Run("deletes what Select chose, oldest first", func(t *testing.T) {
		s := sixDays()
		var events []plan.Event
		ctx := plan.WithReport(t.Context(), func(e plan.Event) { events = append(events, e) })
		rep, err := Apply(ctx, s, policy, opts)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"b5", "b4", "b3"}; !slices.Equal(s.deleted, want) || !slices.Equal(rep.Deleted, want) {
			t.Errorf("deleted %v (report %v), want %v", s.deleted, rep.Deleted, want)
		}
		if want := []string{"b0", "b1", "b2", "u"}; !slices.Equal(s.ids(), want) {
			t.Errorf("left %v, want %v", s.ids(), want)
		}
		var msgs []string
		for _, e := range events {
			if e.Status != plan.Progress {
				t.Errorf("event %v is not a Progress event", e)
			}
			msgs = append(msgs, e.Message)
		}
		want := []string{
			"deleting backup b5 (1 of 3)", "deleted backup b5 (1 of 3)",
			"deleting backup b4 (2 of 3)", "deleted backup b4 (2 of 3)",
			"deleting backup b3 (3 of 3)", "deleted backup b3 (3 of 3)",
		}
		if !slices.Equal(msgs, want) {
			t.Errorf("progress %q, want %q", msgs, want)
		}
	})
	t.Run("dry run deletes nothing and returns the plan", func(t *testing.T) {
		s := sixDays()
		o := opts
		o.DryRun = true
		rep, err := Apply(t.Context(), s, policy, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.deleted) != 0 || len(rep.Deleted) != 0 || len(rep.Delete) != 3 || len(rep.Keep) != 4 {
			t.Errorf("deleted %v; plan keeps %d, deletes %d", s.deleted, len(rep.Keep), len(rep.Delete))
		}
	})
	t.Run("DeleteUnverified", func(t *testing.T) {
		s := sixDays()
		o := opts
		o.DeleteUnverified = true
		if _, err := Apply(t.Context(), s, policy, o); err != nil {
			t.Fatal(err)
		}
		if want := []string{"b5", "b4", "b3", "u"}; !slices.Equal(slices.Sorted(slices.Values(s.deleted)), slices.Sorted(slices.Values(want))) {
			t.Errorf("deleted %v, want %v", s.deleted, want)
		}
	})
	t.Run("invalid policy: no store call", func(t *testing.T) {
		s := sixDays()
		s.listErr = errors.New("List must not be called")
		_, err := Apply(t.Context(), s, Policy{KeepDaily: -1}, opts)
		var oe *lifeboat.OptionsError
		if !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.As(err, &oe) || oe.Option != "retention.Policy.KeepDaily" {
			t.Fatalf("err %v, want a *lifeboat.OptionsError for retention.Policy.KeepDaily", err)
		}
	})
	t.Run("list error", func(t *testing.T) {
		s := sixDays()
		s.listErr = errors.New("bucket unreachable")
		if _, err := Apply(t.Context(), s, policy, opts); err == nil || len(s.deleted) != 0 {
			t.Fatalf("err %v, deleted %v", err, s.deleted)
		}
	})
	t.Run("duplicate listing deletes nothing", func(t *testing.T) {
		s := &dupStore{sixDays()}
		if _, err := Apply(t.Context(), s, policy, opts); !errors.Is(err, ErrBadListing) || len(s.deleted) != 0 {
			t.Fatalf("err %v, deleted %v", err, s.deleted)
		}
	})
	t.Run("delete error stops, report says what was done", func(t *testing.T) {
		s := sixDays()
		s.failOn["b4"] = errors.New("403 forbidden")
		rep, err := Apply(t.Context(), s, policy, opts)
		if err == nil || !slices.Equal(rep.Deleted, []string{"b5"}) || !slices.Equal(s.deleted, []string{"b5"}) {
			t.Fatalf("err %v, report %v, deleted %v", err, rep.Deleted, s.deleted)
		}
	})
	t.Run("already gone counts as deleted", func(t *testing.T) {
		s := sixDays()
		s.onDelete = func(id string) {
			if id == "b4" {
				s.mu.Lock()
				delete(s.backups, "b4") // another pruner got there first
				s.mu.Unlock()
			}
		}
		rep, err := Apply(t.Context(), s, policy, opts)
		if err != nil || !slices.Equal(rep.Deleted, []string{"b5", "b4", "b3"}) {
			t.Fatalf("err %v, report %v", err, rep.Deleted)
		}
	})
	t.Run("cancelled between deletions", func(t *testing.T) {
		s := sixDays()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		s.onDelete = func(id string) {
			if id == "b5" {
				cancel()
			}
		}
		rep, err := Apply(ctx, s, policy, opts)
		if !errors.Is(err, context.Canceled) || len(rep.Deleted) != 0 || len(s.ids()) != 7 {
			t.Fatalf("err %v, report %v, left %v", err, rep.Deleted, s.ids())
		}
	})
	t.Run("a backup taken after the listing is not deleted", func(t *testing.T) {
		s := sixDays()
		s.onDelete = func(string) {
			s.mu.Lock()
			s.backups["late"] = Backup{ID: "late", Taken: at(-200), Verified: true}
			s.mu.Unlock()
		}
		if _, err := Apply(t.Context(), s, policy, opts); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(s.ids(), "late") {
			t.Error("deleted a backup it never listed")
		}
	})
	t.Run("empty policy", func(t *testing.T) {
		s := sixDays()
		rep, err := Apply(t.Context(), s, Policy{}, opts)
		if err != nil || len(s.deleted) != 0 || len(rep.Keep) != 7 {
			t.Fatalf("err %v, deleted %v", err, s.deleted)
		}
	})
	t.Run("nil store", func(t *testing.T) {
		if _, err := Apply(t.Context(), nil, policy, opts); err == nil {
			t.Fatal("no error")
		}
	})
}

// dupStore lists one backup twice.
type dupStore struct{ *memStore }

func (s *dupStore) List(ctx context.Context) ([]Backup, error) {
	bs, err := s.memStore.List(ctx)
	return append(bs, bs[0]), err
}

// TestApplyRefusesNilStore: a nil Store is lifeboat.ErrInvalidOptions, with an
// empty Report, before anything is read.
func TestApplyRefusesNilStore(t *testing.T) {
	rep, err := Apply(context.Background(), nil, Policy{KeepLast: 1}, ApplyOptions{})
	if !errors.Is(err, lifeboat.ErrInvalidOptions) || rep == nil {
		t.Fatalf("Apply(nil store) = %v, %v; want lifeboat.ErrInvalidOptions and a Report", rep, err)
	}
}
