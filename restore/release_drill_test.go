package restore_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
	"github.com/lifeboat-dev/lifeboat/restore"
)

// TestDrillEtcdOnlyReleaseRefused: on a simulated 4.20.3 cluster the
// classic restore's dry run names the etcd-only generation and the
// evidence (the ClusterVersion with the API up, the etcd static pod's
// etcd-rev container when only the host is asked), the run is refused
// with the typed error before any host is touched, and
// AllowClassicOnEtcdOnly runs the dry run through.
func TestDrillEtcdOnlyReleaseRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole simulated cluster")
	}
	if _, err := clustertest.FindBinaries(); err != nil {
		t.Skipf("etcd and kube-apiserver binaries missing (run hack/tools.sh): %v", err)
	}
	ctx := t.Context()
	t.Parallel() // its own cluster, like the drills (startDrill)
	c := clustertest.Start(t, clustertest.Options{Release: "4.20.3", Interval: 100 * time.Millisecond})
	masters := c.Masters()
	d := &drill{c: c, backupDir: t.TempDir(), recovery: masters[0], others: masters[1:]}
	etcd, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Take(ctx, etcd, d.backupDir, backup.TakeOptions{Host: c.Host(d.recovery), Config: c.Config, MinClusterAge: -1}); err != nil {
		t.Fatalf("backup: %v", err)
	}

	opts := d.options(t)
	opts.ClusterVersion = "4.20.3"
	opts.Config = c.Config
	var lines []string
	opts.Report = func(e plan.Event) {
		t.Log(e.String())
		if e.Step.ID == "verify-backup" && e.Status == plan.Progress && strings.HasPrefix(e.Message, "release ") {
			lines = append(lines, e.Message)
		}
	}
	refused := func(what string, err error) {
		t.Helper()
		var pe *restore.PreflightError
		var me *restore.ReleaseMismatchError
		if !errors.As(err, &pe) || pe.Check != "release" || !errors.Is(err, restore.ErrProcedureNotForRelease) ||
			!errors.As(err, &me) || me.Decision.Generation != release.GenerationEtcdOnly {
			t.Fatalf("%s: err = %v, want a *PreflightError (release) with a *ReleaseMismatchError of generation etcd-only", what, err)
		}
	}
	lastLine := func(wants ...string) {
		t.Helper()
		if len(lines) == 0 {
			t.Fatal("no release line reported")
		}
		for _, w := range wants {
			if !strings.Contains(lines[len(lines)-1], w) {
				t.Errorf("release line %q lacks %q", lines[len(lines)-1], w)
			}
		}
	}

	// Dry run, the API up: the ClusterVersion decides.
	opts.DryRun = true
	_, err = restore.Run(ctx, opts)
	refused("dry run", err)
	lastLine("release 4.20.3: generation etcd-only (4.18+)", "from ClusterVersion clusterversion/version", "completed version 4.20.3")

	// Dry run, no API client: the recovery host's etcd static pod decides.
	noAPI := opts
	noAPI.Config = nil
	_, err = restore.Run(ctx, noAPI)
	refused("dry run from the host", err)
	lastLine("generation etcd-only (4.18+)", "from host "+d.recovery+":/etc/kubernetes/manifests/etcd-pod.yaml", "etcd-rev")

	// The run: refused, nothing moved, no state written.
	before := d.hostListing(t)
	run := opts
	run.DryRun = false
	state, err := restore.Run(ctx, run)
	refused("run", err)
	if state != nil && len(state.Finished) > 0 {
		t.Errorf("refused run recorded finished steps: %v", state.Finished)
	}
	if after := d.hostListing(t); after != before {
		t.Errorf("a refused run changed the hosts:\nbefore %s\nafter  %s", before, after)
	}
	for _, n := range masters {
		h := c.Host(n)
		if _, err := h.Stat(ctx, restore.DefaultManifestDir+"/etcd-pod.yaml"); err != nil {
			t.Errorf("%s: etcd-pod.yaml: %v", n, err)
		}
		if _, err := h.Stat(ctx, restore.DefaultEtcdDataDir+"/member"); err != nil {
			t.Errorf("%s: etcd data: %v", n, err)
		}
		if _, err := h.Stat(ctx, restore.DefaultAsideDir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %s exists (%v)", n, restore.DefaultAsideDir, err)
		}
	}
	if _, err := c.Host(d.recovery).Stat(ctx, restore.DefaultStatePath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused run wrote its state: %v", err)
	}

	// The override runs the dry run through and says so.
	opts.AllowClassicOnEtcdOnly = true
	if _, err := restore.Run(ctx, opts); err != nil {
		t.Fatalf("dry run with AllowClassicOnEtcdOnly: %v", err)
	}
	lastLine("release 4.20.3: generation etcd-only (4.18+)", "runs anyway, as Options.AllowClassicOnEtcdOnly asks")
}
