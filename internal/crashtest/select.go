package crashtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment variables choosing the crash cases.
const (
	// StepsEnv: "all" runs every step; a comma-separated list of step IDs
	// runs those (IDs of another plan are ignored); unset: a sample.
	StepsEnv = "LIFEBOAT_CRASH_STEPS"
	// SeedEnv fixes the sample's random seed (an integer).
	SeedEnv = "LIFEBOAT_CRASH_SEED"
	// PointsEnv lists the kill points each chosen step is crashed at:
	// "first", "last" or "first,last"; unset: "first" for every step of
	// StepsEnv, one chosen by the seed per step of a sample.
	PointsEnv = "LIFEBOAT_CRASH_POINTS"
	// SummaryEnv names a file each case appends its summary row to.
	SummaryEnv = "LIFEBOAT_CRASH_SUMMARY"
)

// SampleSize is how many steps a normal run (CI) crashes in per plan.
const SampleSize = 3

// Case is one crash: a step and the point in it.
type Case struct {
	Step  string
	Point Point
}

// Name is the case's subtest name.
func (c Case) Name() string { return c.Step + "@" + string(c.Point) }

// Select returns the cases to run, in plan order: every step (StepsEnv
// "all") or those StepsEnv names, at the points PointsEnv lists (first
// when unset); or, when StepsEnv is unset, SampleSize steps chosen at
// random, each at a point chosen by the same seed unless PointsEnv says.
// The seed is logged and printed so that a failing sample can be run
// again. It skips t when StepsEnv names none of ids.
func Select(t testing.TB, ids []string) []Case {
	t.Helper()
	var points []Point
	for _, p := range strings.Split(os.Getenv(PointsEnv), ",") {
		switch p := Point(strings.TrimSpace(p)); p {
		case PointFirst, PointLast:
			points = append(points, p)
		case "":
		default:
			t.Fatalf("%s: unknown point %q (first, last)", PointsEnv, p)
		}
	}
	expand := func(steps []string) []Case {
		ps := points
		if len(ps) == 0 {
			ps = []Point{PointFirst}
		}
		var out []Case
		for _, s := range steps {
			for _, p := range ps {
				out = append(out, Case{Step: s, Point: p})
			}
		}
		return out
	}
	switch v := strings.TrimSpace(os.Getenv(StepsEnv)); v {
	case "all":
		return expand(ids)
	case "":
	default:
		var out []string
		for _, id := range ids {
			for _, want := range strings.Split(v, ",") {
				if strings.TrimSpace(want) == id {
					out = append(out, id)
				}
			}
		}
		if len(out) == 0 {
			t.Skipf("%s=%s names no step of this plan (steps: %s)", StepsEnv, v, strings.Join(ids, ","))
		}
		return expand(out)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(SeedEnv); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", SeedEnv, s, err)
		}
		seed = n
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	idx := rng.Perm(len(ids))
	if len(idx) > SampleSize {
		idx = idx[:SampleSize]
	}
	slices.Sort(idx)
	var out []Case
	var names []string
	for _, i := range idx {
		if len(points) > 0 {
			out = append(out, expand([]string{ids[i]})...)
		} else {
			p := PointFirst
			if rng.IntN(2) == 1 {
				p = PointLast
			}
			out = append(out, Case{Step: ids[i], Point: p})
		}
	}
	for _, c := range out {
		names = append(names, c.Name())
	}
	msg := fmt.Sprintf("crash sample of %s: %s=%d: %s (every step: %s=all)", t.Name(), SeedEnv, seed, strings.Join(names, " "), StepsEnv)
	t.Log(msg)
	fmt.Fprintln(os.Stderr, msg)
	return out
}

// Row is one line of the crash matrix's summary.
type Row struct {
	Plan, Step string
	At         Point
	// KilledInStep: the child died of SIGKILL at a point inside Step.
	KilledInStep bool
	Point        string
	// Resumed: a second child ran the plan to its end.
	Resumed bool
	// Verified: the runbook's end state checked out.
	Verified bool
	Elapsed  time.Duration
	Note     string
}

// Record logs row and appends it to the SummaryEnv file, if set.
func Record(t testing.TB, row Row) {
	t.Helper()
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	line := strings.Join([]string{row.Plan, row.Step, string(row.At), yn(row.KilledInStep), yn(row.Resumed), yn(row.Verified),
		strconv.Itoa(int(row.Elapsed.Seconds())), clean(row.Point), clean(row.Note)}, "\t")
	t.Log("crash case: " + line)
	if p := os.Getenv(SummaryEnv); p != "" {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			t.Errorf("crash summary: %v", err)
			return
		}
		defer f.Close()
		fmt.Fprintln(f, line)
	}
}

func clean(s string) string {
	s = strings.NewReplacer("\t", " ", "\n", " ").Replace(s)
	if len(s) > 160 {
		s = s[:160] + "..."
	}
	if s == "" {
		s = "-"
	}
	return s
}
