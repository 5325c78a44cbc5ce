package restore_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/restore"
)

// hostListing names the manifests and data directory entries of every
// master, to show that a refused run moved nothing.
func (d *drill) hostListing(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, n := range append([]string{d.recovery}, d.others...) {
		h := d.c.Host(n)
		for _, dir := range []string{restore.DefaultManifestDir, restore.DefaultEtcdDataDir, restore.DefaultEtcdBackupDir} {
			ents, err := h.ReadDir(t.Context(), dir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s:%s:", n, dir)
			for _, e := range ents {
				b.WriteString(e.Name + ",")
			}
			b.WriteString(";")
		}
	}
	return b.String()
}

// TestDrillAnotherRunRefusedSameRunResumes is fault 1 of issue 10 on the
// simulated cluster: a restore interrupted with every data directory moved
// aside; a run with other hosts is refused with *AnotherRunError and moves
// nothing; the run with the same identity resumes to the verified end
// state, and its state is retired with its finish time.
func TestDrillAnotherRunRefusedSameRunResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	d := startDrill(t, false)
	opts := d.options(t)
	ctx, cancel := context.WithCancel(t.Context())
	report := opts.Report
	opts.Report = func(e plan.Event) {
		report(e)
		if strings.HasPrefix(e.Step.ID, "restore-snapshot/") && e.Status == plan.Started {
			cancel()
		}
	}
	if _, err := runRestore(ctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	opts.Report = report

	other := opts
	other.Others = opts.Others[:1]
	before := d.hostListing(t)
	_, err := runRestore(t.Context(), other)
	var ae *restore.AnotherRunError
	if !errors.As(err, &ae) || len(ae.Differences) != 1 || ae.Differences[0] != "other masters" {
		t.Fatalf("run with other hosts: %v, want *AnotherRunError on other masters", err)
	}
	t.Logf("refused: %v", err)
	if after := d.hostListing(t); after != before {
		t.Fatalf("the refused run moved files:\nbefore %s\nafter  %s", before, after)
	}

	state, err := runRestore(t.Context(), opts)
	if err != nil {
		d.c.LogTails(t, 40)
		t.Fatalf("resumed run: %v", err)
	}
	if !strings.Contains(state.RetiredTo, ".finished-") {
		t.Errorf("finished state retired to %q", state.RetiredTo)
	}
	if _, err := d.c.Host(d.recovery).Stat(t.Context(), restore.DefaultStatePath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("live state left at %s: %v", restore.DefaultStatePath, err)
	}
	d.check(t)
}
