package backup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"

	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestTakePlan: invalid deps and options are refused before the plan
// exists; a dry run runs the pre-checks only and writes nothing; a run
// reports the snapshot's bytes and fills Result.
func TestTakePlan(t *testing.T) {
	snap := withTrailer(makeBoltDB(t, 120))
	root := t.TempDir()
	masterTree(t, root)
	h := hosttest.NewDir("master-0", root, hosttest.DirOptions{})
	deps := TakeDeps{Etcd: newFakeEtcd(snap), Host: h, Config: configFakeHealthy(t)}
	base := TakeOptions{Now: func() time.Time { return testNow }, FreeSpace: plentyOfSpace, Snapshot: SnapshotOptions{BufferSize: 4096}}

	invalid := []struct {
		name string
		deps TakeDeps
		dir  string
	}{
		{"no etcd client", TakeDeps{Host: h, Config: deps.Config}, t.TempDir()},
		{"no host", TakeDeps{Etcd: deps.Etcd, Config: deps.Config}, t.TempDir()},
		{"no config without Force", TakeDeps{Etcd: deps.Etcd, Host: h}, t.TempDir()},
		{"no directory", deps, ""},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			o.Dir = tc.dir
			if p, err := TakePlan(tc.deps, o); !errors.Is(err, lifeboat.ErrInvalidOptions) || p != nil {
				t.Fatalf("plan %v, err = %v, want lifeboat.ErrInvalidOptions", p, err)
			}
		})
	}

	t.Run("dry run checks only", func(t *testing.T) {
		o := base
		o.Dir = filepath.Join(t.TempDir(), "backup")
		p, err := TakePlan(deps, o)
		if err != nil {
			t.Fatal(err)
		}
		var ran, would []string
		err = p.Run(t.Context(), plan.RunOptions{DryRun: true, Report: func(e plan.Event) {
			switch e.Status {
			case plan.Done:
				ran = append(ran, e.Step.ID)
			case plan.WouldRun:
				would = append(would, e.Step.ID)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ran, []string{"precheck"}) || !slices.Equal(would, []string{"resources", "snapshot", "manifest"}) {
			t.Errorf("ran %v, would run %v", ran, would)
		}
		if _, err := os.Stat(o.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a dry run created %s (%v)", o.Dir, err)
		}
	})

	t.Run("run", func(t *testing.T) {
		var b Backup
		o := base
		o.Dir, o.Result = filepath.Join(t.TempDir(), "backup"), &b
		p, err := TakePlan(deps, o)
		if err != nil {
			t.Fatal(err)
		}
		var last plan.Event
		err = p.Run(t.Context(), plan.RunOptions{Report: func(e plan.Event) {
			if e.Step.ID == "snapshot" && e.BytesDone > 0 {
				last = e
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if last.BytesDone != int64(len(snap)) || last.BytesTotal == 0 {
			t.Errorf("last snapshot bytes event %+v, want %d bytes of a known total", last, len(snap))
		}
		if b.Snapshot.Size != int64(len(snap)) || b.Manifest == nil || b.Resources.Name == "" {
			t.Errorf("result %+v", b)
		}
	})
}
