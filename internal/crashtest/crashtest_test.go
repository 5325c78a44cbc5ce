package crashtest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// toyPlan writes a/1, then b/1 and b/2, then c/1 on h; every step is
// idempotent (a file already there counts as written).
func toyPlan(h host.Host) *plan.Plan {
	write := func(files ...string) func(ctx context.Context, progress func(string)) error {
		return func(ctx context.Context, progress func(string)) error {
			for _, f := range files {
				if _, err := h.Stat(ctx, f); err == nil {
					continue
				}
				if err := h.WriteFile(ctx, f, strings.NewReader(f), 0o600); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return &plan.Plan{Name: "toy", Steps: []plan.Step{
		{ID: "a", Run: write("/a1")},
		{ID: "b", Run: write("/b1", "/b2")},
		{ID: "c", Run: write("/c1")},
	}}
}

// TestCrashHelper is the child of TestKillInsideStep.
func TestCrashHelper(t *testing.T) {
	c := OpenChild(t)
	h := c.Host(t, "toy")
	if err := toyPlan(h).Run(t.Context(), plan.RunOptions{Report: c.Report}); err != nil {
		t.Fatal(err)
	}
}

func TestKillInsideStep(t *testing.T) {
	cases := []struct {
		name  string
		at    Point
		point string
		files []string // present after the killed run
	}{
		{"first work point", PointFirst, "host toy: write /b1 done", []string{"/a1", "/b1"}},
		{"end of the step", PointLast, "at the step's done event", []string{"/a1", "/b1", "/b2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, dir := t.TempDir(), t.TempDir()
			spec := Spec{RuntimeURL: ServeRuntime(t, func(string) host.Host { return nil }),
				Hosts: []HostSpec{{Name: "toy", Root: root}}, KillStep: "b", KillAt: tc.at}
			r := Run(t, spec, dir, "killed", 2*time.Minute)
			if r.Err != nil || !r.Killed || !r.InStep || r.Point != tc.point {
				t.Fatalf("killed run: %+v\n%s", r, Tail(r.Log, 20))
			}
			for _, f := range []string{"/a1", "/b1", "/b2", "/c1"} {
				_, err := os.Stat(filepath.Join(root, f))
				want := false
				for _, w := range tc.files {
					want = want || w == f
				}
				if (err == nil) != want || (err != nil && !errors.Is(err, fs.ErrNotExist)) {
					t.Errorf("%s after the kill: %v, want present %v", f, err, want)
				}
			}
			spec.KillStep = ""
			if r := Run(t, spec, dir, "resumed", 2*time.Minute); r.Err != nil || r.Killed {
				t.Fatalf("resumed run: %+v", r)
			}
			for _, f := range []string{"/a1", "/b1", "/b2", "/c1"} {
				if _, err := os.Stat(filepath.Join(root, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestSelect(t *testing.T) {
	ids := []string{"s1", "s2", "s3", "s4", "s5", "s6"}
	t.Run("seeded sample repeats", func(t *testing.T) {
		t.Setenv(StepsEnv, "")
		t.Setenv(PointsEnv, "")
		t.Setenv(SeedEnv, "42")
		a, b := Select(t, ids), Select(t, ids)
		if len(a) != SampleSize || strings.Join(names(a), ",") != strings.Join(names(b), ",") {
			t.Fatalf("samples %v and %v", names(a), names(b))
		}
	})
	t.Run("all at both points", func(t *testing.T) {
		t.Setenv(StepsEnv, "all")
		t.Setenv(PointsEnv, "first,last")
		if got := Select(t, ids); len(got) != 2*len(ids) {
			t.Fatalf("got %v", names(got))
		}
	})
	t.Run("named steps", func(t *testing.T) {
		t.Setenv(StepsEnv, "s4,other-plan/x,s2")
		t.Setenv(PointsEnv, "")
		if got := strings.Join(names(Select(t, ids)), ","); got != "s2@first,s4@first" {
			t.Fatalf("got %s", got)
		}
	})
}

func names(cs []Case) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name())
	}
	return out
}
