package retention

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

func fixedNow() Options { return Options{Now: func() time.Time { return t0 }} }

// outcome maps every ID to its first reason's rule.
func outcome(t *testing.T, res *Result) map[string]Rule {
	t.Helper()
	m := map[string]Rule{}
	for _, l := range [][]Decision{res.Keep, res.Delete} {
		for _, d := range l {
			if _, dup := m[d.Backup.ID]; dup {
				t.Fatalf("%s decided twice", d.Backup.ID)
			}
			m[d.Backup.ID] = d.Reasons[0].Rule
		}
	}
	return m
}

func TestSelectInvariants(t *testing.T) {
	tests := []struct {
		name    string
		backups []Backup
		policy  Policy
		opts    func(*Options)
		want    map[string]Rule
	}{
		{
			name:    "empty policy deletes nothing",
			backups: []Backup{{ID: "a", Taken: at(-3), Verified: true}, {ID: "b", Taken: at(-2), Verified: true}, {ID: "c", Taken: at(-1)}},
			want:    map[string]Rule{"a": KeepNoPolicy, "b": KeepNewestVerified, "c": KeepNotOlder},
		},
		{
			name: "newest verified kept when every rule would drop it",
			// KeepWithin 1h of t0 matches nothing; KeepLast 0.
			backups: []Backup{{ID: "old", Taken: at(-50), Verified: true}, {ID: "older", Taken: at(-60), Verified: true}},
			policy:  Policy{KeepWithin: time.Hour},
			want:    map[string]Rule{"old": KeepNewestVerified, "older": DeleteExpired},
		},
		{
			name: "younger unverified kept (in progress)",
			backups: []Backup{
				{ID: "v", Taken: at(-10), Verified: true}, {ID: "run", Taken: at(-1)}, {ID: "run2", Taken: at(0)},
				{ID: "v-old", Taken: at(-20), Verified: true},
			},
			policy: Policy{KeepLast: 1},
			want:   map[string]Rule{"v": KeepNewestVerified, "run": KeepNotOlder, "run2": KeepNotOlder, "v-old": DeleteExpired},
		},
		{
			name:    "older unverified kept by default",
			backups: []Backup{{ID: "v", Taken: at(-1), Verified: true}, {ID: "bad", Taken: at(-5)}},
			policy:  Policy{KeepLast: 1},
			want:    map[string]Rule{"v": KeepNewestVerified, "bad": KeepUnverified},
		},
		{
			name:    "older unverified deleted with the option",
			backups: []Backup{{ID: "v", Taken: at(-1), Verified: true}, {ID: "bad", Taken: at(-5)}},
			policy:  Policy{KeepLast: 1},
			opts:    func(o *Options) { o.DeleteUnverified = true },
			want:    map[string]Rule{"v": KeepNewestVerified, "bad": DeleteUnverified},
		},
		{
			name:    "empty policy keeps unverified backups even with DeleteUnverified",
			backups: []Backup{{ID: "v", Taken: at(-1), Verified: true}, {ID: "bad", Taken: at(-5)}},
			opts:    func(o *Options) { o.DeleteUnverified = true },
			want:    map[string]Rule{"v": KeepNewestVerified, "bad": KeepNoPolicy},
		},
		{
			name:    "no verified backup: nothing deleted, even with DeleteUnverified",
			backups: []Backup{{ID: "a", Taken: at(-1)}, {ID: "b", Taken: at(-100)}},
			policy:  Policy{KeepLast: 1},
			opts:    func(o *Options) { o.DeleteUnverified = true },
			want:    map[string]Rule{"a": KeepUnverified, "b": KeepUnverified},
		},
		{
			name: "unverified backups take no rule's slot",
			backups: []Backup{
				{ID: "v1", Taken: at(-1), Verified: true}, {ID: "u", Taken: at(-2)}, {ID: "v2", Taken: at(-3), Verified: true},
				{ID: "v3", Taken: at(-4), Verified: true},
			},
			policy: Policy{KeepLast: 2},
			opts:   func(o *Options) { o.DeleteUnverified = true },
			want:   map[string]Rule{"v1": KeepNewestVerified, "u": DeleteUnverified, "v2": KeepLast, "v3": DeleteExpired},
		},
		{
			name:    "zero time kept and counted by no rule",
			backups: []Backup{{ID: "z", Verified: true}, {ID: "v", Taken: at(-1), Verified: true}, {ID: "w", Taken: at(-2), Verified: true}},
			policy:  Policy{KeepLast: 2},
			want:    map[string]Rule{"z": KeepUnknownTime, "v": KeepNewestVerified, "w": KeepLast},
		},
		{
			name:    "only zero times",
			backups: []Backup{{ID: "z1", Verified: true}, {ID: "z2"}},
			policy:  Policy{KeepLast: 1},
			want:    map[string]Rule{"z1": KeepUnknownTime, "z2": KeepUnknownTime},
		},
		{
			name: "tie at the newest time: smallest ID is the newest verified, the other kept as not older",
			backups: []Backup{
				{ID: "b", Taken: at(-1), Verified: true}, {ID: "a", Taken: at(-1), Verified: true}, {ID: "c", Taken: at(-2), Verified: true},
			},
			policy: Policy{KeepLast: 1},
			want:   map[string]Rule{"a": KeepNewestVerified, "b": KeepNotOlder, "c": DeleteExpired},
		},
		{
			name: "tie in a period: the rule keeps one, by ID",
			backups: []Backup{
				{ID: "n", Taken: at(0), Verified: true},
				{ID: "y2", Taken: at(-24), Verified: true}, {ID: "y1", Taken: at(-24), Verified: true},
			},
			policy: Policy{KeepDaily: 2},
			want:   map[string]Rule{"n": KeepNewestVerified, "y1": KeepDaily, "y2": DeleteExpired},
		},
		{
			name: "future backup (clock skew) is the newest verified",
			backups: []Backup{
				{ID: "future", Taken: at(48), Verified: true}, {ID: "now", Taken: at(0), Verified: true},
			},
			policy: Policy{KeepWithin: time.Hour},
			want:   map[string]Rule{"future": KeepNewestVerified, "now": KeepWithin},
		},
		{
			name:    "no backups",
			backups: nil,
			policy:  Policy{KeepLast: 1},
			want:    map[string]Rule{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := fixedNow()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			in := slices.Clone(tc.backups)
			res, err := Select(in, tc.policy, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(in, tc.backups) {
				t.Error("Select modified its input")
			}
			got := outcome(t, res)
			if len(got) != len(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for id, r := range tc.want {
				if got[id] != r {
					t.Errorf("%s: %s, want %s", id, got[id], r)
				}
			}
			checkSorted(t, res)
		})
	}
}

func TestSelectRefuses(t *testing.T) {
	ok := []Backup{{ID: "a", Taken: at(0), Verified: true}}
	tests := []struct {
		name    string
		backups []Backup
		policy  Policy
		want    error
		field   string
	}{
		{name: "negative count", backups: ok, policy: Policy{KeepDaily: -1}, want: lifeboat.ErrInvalidOptions, field: "retention.Policy.KeepDaily"},
		{name: "negative last", backups: ok, policy: Policy{KeepLast: -3}, want: lifeboat.ErrInvalidOptions, field: "retention.Policy.KeepLast"},
		{name: "negative within", backups: ok, policy: Policy{KeepWithin: -time.Second}, want: lifeboat.ErrInvalidOptions, field: "retention.Policy.KeepWithin"},
		{name: "empty ID", backups: []Backup{{Taken: at(0)}}, policy: Policy{KeepLast: 1}, want: ErrBadListing},
		{name: "duplicate ID", backups: []Backup{{ID: "a", Taken: at(0)}, {ID: "a", Taken: at(-1), Verified: true}}, policy: Policy{KeepLast: 1}, want: ErrBadListing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Select(tc.backups, tc.policy, fixedNow())
			if !errors.Is(err, tc.want) || res != nil {
				t.Fatalf("got %v, %v; want %v", res, err, tc.want)
			}
			if tc.field != "" {
				var oe *lifeboat.OptionsError
				if !errors.As(err, &oe) || oe.Option != tc.field {
					t.Errorf("error %v: want a *lifeboat.OptionsError for %s", err, tc.field)
				}
			}
		})
	}
	err := Policy{KeepHourly: -1, KeepYearly: -2}.Validate()
	var oe *lifeboat.OptionsError
	if !errors.As(err, &oe) || len(err.(interface{ Unwrap() []error }).Unwrap()) != 2 {
		t.Errorf("two bad fields: %v", err)
	}
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
}

// checkInvariants checks what Select promises whatever the policy.
func checkInvariants(t *testing.T, in []Backup, p Policy, opts Options, res *Result) {
	t.Helper()
	got := outcome(t, res)
	if len(got) != len(in) {
		t.Fatalf("%d decisions for %d backups", len(got), len(in))
	}
	// The newest verified backup, computed here without Select's sort.
	var newest *Backup
	for i, b := range in {
		if !b.Verified || b.Taken.IsZero() {
			continue
		}
		if newest == nil || b.Taken.After(newest.Taken) || (b.Taken.Equal(newest.Taken) && b.ID < newest.ID) {
			newest = &in[i]
		}
	}
	if newest == nil && res.NewestVerified != "" || newest != nil && res.NewestVerified != newest.ID {
		t.Fatalf("NewestVerified %q, want %v", res.NewestVerified, newest)
	}
	deleted := map[string]bool{}
	for _, d := range res.Delete {
		deleted[d.Backup.ID] = true
	}
	for _, b := range in {
		if !deleted[b.ID] {
			continue
		}
		switch {
		case p.IsZero():
			t.Fatalf("empty policy deleted %v", b)
		case newest == nil:
			t.Fatalf("deleted %v with no verified backup", b)
		case b.ID == newest.ID:
			t.Fatalf("deleted the newest verified backup %v", b)
		case !b.Taken.Before(newest.Taken):
			t.Fatalf("deleted %v, not older than the newest verified %v", b, newest)
		case b.Taken.IsZero():
			t.Fatalf("deleted %v with unknown time", b)
		case !b.Verified && !opts.DeleteUnverified:
			t.Fatalf("deleted unverified %v without DeleteUnverified", b)
		}
	}
	checkSorted(t, res)
}

// randomSet draws up to 60 backups over a few days, with ties, zero
// times, unverified ones and future ones, in random order.
func randomSet(r *rand.Rand) []Backup {
	n := r.IntN(60)
	bs := make([]Backup, 0, n)
	for i := range n {
		b := Backup{ID: string(rune('A'+i%26)) + string(rune('a'+i/26)), Verified: r.IntN(3) > 0}
		if r.IntN(15) > 0 {
			// Hours in [-200, 10): some in the future, many ties.
			b.Taken = t0.Add(time.Duration(r.IntN(210)-200) * time.Hour).Add(time.Duration(r.IntN(2)) * time.Minute)
		}
		bs = append(bs, b)
	}
	r.Shuffle(len(bs), func(i, j int) { bs[i], bs[j] = bs[j], bs[i] })
	return bs
}

func randomPolicy(r *rand.Rand) Policy {
	c := func() int {
		if r.IntN(2) == 0 {
			return 0
		}
		return r.IntN(5)
	}
	p := Policy{KeepLast: c(), KeepHourly: c(), KeepDaily: c(), KeepWeekly: c(), KeepMonthly: c(), KeepYearly: c()}
	if r.IntN(3) == 0 {
		p.KeepWithin = time.Duration(r.IntN(100)) * time.Hour
	}
	return p
}

func TestSelectInvariantsRandom(t *testing.T) {
	deleted, unverifiedDeleted := 0, 0
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 7))
		in, p := randomSet(r), randomPolicy(r)
		opts := fixedNow()
		opts.DeleteUnverified = r.IntN(2) == 0
		res, err := Select(in, p, opts)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		checkInvariants(t, in, p, opts, res)
		deleted += len(res.Delete)
		for _, d := range res.Delete {
			if !d.Backup.Verified {
				unverifiedDeleted++
			}
		}
	}
	// The sets must exercise deletion, or the checks above prove nothing.
	if deleted < 1000 || unverifiedDeleted < 100 {
		t.Fatalf("only %d deletions (%d unverified) over all seeds", deleted, unverifiedDeleted)
	}
	t.Logf("%d deletions, %d of unverified backups", deleted, unverifiedDeleted)
}

func FuzzSelect(f *testing.F) {
	f.Add(uint64(1), uint64(2), false)
	f.Add(uint64(99), uint64(0), true)
	f.Fuzz(func(t *testing.T, s1, s2 uint64, deleteUnverified bool) {
		r := rand.New(rand.NewPCG(s1, s2))
		in, p := randomSet(r), randomPolicy(r)
		opts := fixedNow()
		opts.DeleteUnverified = deleteUnverified
		res, err := Select(in, p, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, in, p, opts, res)
	})
}

func TestPolicyString(t *testing.T) {
	for p, want := range map[Policy]string{
		{}:                                   "keep all",
		{KeepDaily: 7}:                       "keep 7 daily",
		{KeepDaily: 7, KeepWeekly: 4}:        "keep 7 daily and 4 weekly",
		{KeepLast: 2, KeepWithin: time.Hour}: "keep 2 last and those within 1h0m0s",
	} {
		if got := p.String(); got != want {
			t.Errorf("%#v: %q, want %q", p, got, want)
		}
	}
}
