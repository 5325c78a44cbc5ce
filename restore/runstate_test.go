package restore

import (
	"bytes"
	"context"
	"errors"
	"github.com/lifeboat-dev/lifeboat/member"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// secondBackup writes, beside the fixture's backup, another backup of the
// same cluster with other data (n keys) and a later stamp, and returns its
// directory and the revision of its snapshot.
func (f *fixture) secondBackup(t *testing.T, n int) (string, int64) {
	t.Helper()
	snap, rev := makeSnapshot(t, n)
	dir := filepath.Join(t.TempDir(), "backup-2")
	stamp := "2026-12-20_090000"
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "snapshot_"+stamp+".db"), string(b))
	arch, err := os.ReadFile(globOne(t, f.backupDir, "static_kuberesources_*.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "static_kuberesources_"+stamp+".tar.gz"), string(arch))
	writeFile(t, filepath.Join(dir, "backup.json"), `{"format":1,"clusterVersion":"4.5.2","etcdVersion":"`+libraryEtcdVersion()+`","revision":1}`)
	return dir, rev
}

// TestRunAfterFinishedRunRestoresNewBackup is fault 1 of issue 10: a second
// recovery on the same host with another backup, after a finished one,
// must run every step again and restore the new backup, not return the
// first run's result.
func TestRunAfterFinishedRunRestoresNewBackup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts := patient(f.options("master-0"))
	first, err := runJob(ctx, opts)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}

	dir2, rev2 := f.secondBackup(t, 25)
	opts.BackupDir = dir2
	var evs []plan.Event
	opts.Report = collect(&evs)
	second, err := runJob(ctx, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	st := statuses(evs)
	for _, id := range []string{"verify-backup", "copy-backup", "stop-static-pods/master-0", "restore-snapshot/master-0", "verify-members"} {
		if st[id] != plan.Done {
			t.Errorf("second run: %s %s, want done", id, st[id])
		}
	}
	if second.Backup == nil || second.Backup.Snapshot != "snapshot_2026-12-20_090000.db" || second.Backup.SHA256 == first.Backup.SHA256 {
		t.Fatalf("second run restored backup %+v, want the new one", second.Backup)
	}
	if second.Restore == nil || second.Restore.NewRevision != rev2+int64(second.Restore.RevisionBump) || second.Restore.NewRevision == first.Restore.NewRevision {
		t.Fatalf("second restore record %+v (first %+v), want the new snapshot's revision %d bumped", second.Restore, first.Restore, rev2)
	}
	// The data directory the first run restored was moved aside, not lost.
	if _, err := os.Stat(filepath.Join(f.roots["master-0"], "var/lib/etcd/member/snap/db")); err != nil {
		t.Errorf("restored data dir: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(f.roots["master-0"], "var/lib/etcd-backup/member*")); len(m) < 2 {
		t.Errorf("the first restore's data directory was not kept in /var/lib/etcd-backup: %v", m)
	}
}

// TestPlanRestorePodRestagesStaleSnapshot is fault 6 of issue 10: a
// snapshot.db left in /var/lib/etcd-backup by an earlier attempt (or by
// cluster-restore.sh) with the size of the backup's snapshot but other
// content must not be restored: it is moved aside and the backup's
// snapshot staged.
func TestPlanRestorePodRestagesStaleSnapshot(t *testing.T) {
	f := newFixture(t)
	opts := patient(f.options("master-1"))
	opts.ForceRestorePod = true
	orig, err := os.ReadFile(globOne(t, f.backupDir, "snapshot_*.db"))
	if err != nil {
		t.Fatal(err)
	}
	stale := bytes.Clone(orig)
	for i := 4096; i < len(stale) && i < 8192; i++ {
		stale[i] ^= 0xff
	}
	r := f.roots["master-1"]
	writeFile(t, filepath.Join(r, "var/lib/etcd-backup/snapshot.db"), string(stale))
	if _, err := runJob(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	staged, err := os.ReadFile(filepath.Join(r, "var/lib/etcd-backup/snapshot.db"))
	if err != nil || !bytes.Equal(staged, orig) {
		t.Fatalf("staged snapshot is not the backup's (err %v, stale one kept in place: %v)", err, bytes.Equal(staged, stale))
	}
	kept, err := os.ReadFile(filepath.Join(r, defaultAsideDir, "stale/snapshot.db"))
	if err != nil || !bytes.Equal(kept, stale) {
		t.Fatalf("the stale snapshot was not kept aside: %v", err)
	}
}

// patient gives the fixture's waits room on a loaded machine.
func patient(o job) job {
	o.APITimeout, o.ContainerTimeout, o.RolloutTimeout = 2*time.Minute, time.Minute, 2*time.Minute
	return o
}

// interrupted runs opts until step id is done, then cancels: the state is
// left unfinished with moves recorded.
func interrupted(t *testing.T, opts job, id string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.Report = func(e plan.Event) {
		if e.Step.ID == id && e.Status == plan.Done {
			cancel()
		}
	}
	if _, err := runJob(ctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
}

// TestRunRefusesAnotherRunsUnfinishedState: a run with another identity
// than the unfinished state on the recovery host changes nothing and
// returns *AnotherRunError naming both runs and how to abandon the old
// one; AbandonUnfinished retires the old state (kept) and runs.
func TestRunRefusesAnotherRunsUnfinishedState(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts := patient(f.options("master-0"))
	interrupted(t, opts, "stop-etcd/master-1")
	dir2, _ := f.secondBackup(t, 25)

	cases := []struct {
		name   string
		modify func(o *job)
		differ []string
	}{
		{"another backup", func(o *job) { o.BackupDir = dir2 }, []string{"backup sha256"}},
		{"other masters", func(o *job) { o.Others = o.Others[:1] }, []string{"other masters"}},
		{"lost masters", func(o *job) {
			o.Others, o.LostMasters, o.Machine = o.Others[:1], []string{"master-2"}, machinefake.NewClientset()
		}, []string{"other masters", "lost masters"}},
		{"another method", func(o *job) { o.ForceRestorePod = true }, []string{"method"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			tc.modify(&o)
			before := f.snapshotTrees(t)
			d, err := runJob(ctx, o)
			var ae *AnotherRunError
			if !errors.As(err, &ae) || !errors.Is(err, member.ErrAnotherRunUnfinished) {
				t.Fatalf("err = %v (state %+v), want *AnotherRunError", err, d)
			}
			if !slices.Equal(ae.Differences, tc.differ) || ae.Unfinished == nil || ae.Unfinished.Recovery != "master-0" {
				t.Errorf("error %+v, want differences %v", ae, tc.differ)
			}
			for _, want := range []string{ae.Unfinished.String(), ae.Requested.String(), "AbandonUnfinished", "mv " + defaultStatePath + " /var/lib/lifeboat/restore-state.abandoned-"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message lacks %q:\n%v", want, err)
				}
			}
			if after := f.snapshotTrees(t); after != before {
				t.Fatal("a refused run changed a host")
			}
		})
	}

	// Abandoning the old run: its state is kept beside, the new run goes.
	o := opts
	o.BackupDir, o.AbandonUnfinished = dir2, true
	d, err := runJob(ctx, o)
	if err != nil {
		t.Fatalf("run abandoning the old state: %v", err)
	}
	if d.Backup.Snapshot != "snapshot_2026-12-20_090000.db" || !strings.Contains(d.Previous, ".abandoned-") {
		t.Fatalf("new run: backup %+v, previous %q", d.Backup, d.Previous)
	}
	old, err := newState(f.hosts["master-0"], d.Previous).Get(ctx)
	if err != nil || old.Identity == nil || old.Identity.Snapshot != "snapshot_2026-11-24_180000.db" || len(old.Moves) == 0 {
		t.Fatalf("abandoned state %+v: %v", old, err)
	}
}

// TestRunSameIdentityResumes: a run with the same identity (the same
// backup, even given in another order of hosts) resumes the unfinished
// state: finished steps are skipped, the rest run once.
func TestRunSameIdentityResumes(t *testing.T) {
	f := newFixture(t)
	opts := patient(f.options("master-0"))
	interrupted(t, opts, "move-etcd-data/master-0")
	o := opts
	o.Others = []host.Host{opts.Others[1], opts.Others[0]}
	var evs []plan.Event
	o.Report = collect(&evs)
	d, err := runJob(context.Background(), o)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	st := statuses(evs)
	for _, id := range []string{"verify-backup", "stop-etcd/master-1", "move-etcd-data/master-0"} {
		if st[id] != plan.Skipped {
			t.Errorf("%s: %s, want skipped as finished", id, st[id])
		}
	}
	if st["restore-snapshot/master-0"] != plan.Done || d.Restore == nil || d.RetiredTo == "" {
		t.Fatalf("resumed run did not finish: %v %+v", st, d)
	}
}

// TestRunRetiresFinishedState: when every step finished, the state is
// renamed with its finish time (kept for audit, with its moves) and no
// live state is left for the next run to stand in for it.
func TestRunRetiresFinishedState(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	finish := time.Date(2026, 12, 1, 8, 30, 15, 0, time.UTC)
	opts := patient(f.options("master-2"))
	opts.Options.Now = func() time.Time { return finish }
	d, err := runJob(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := "/var/lib/lifeboat/restore-state.finished-20261201T083015Z.json"
	if d.RetiredTo != want || !d.Completed.Equal(finish) {
		t.Fatalf("retired to %q at %v, want %q at %v", d.RetiredTo, d.Completed, want, finish)
	}
	r := f.roots["master-2"]
	if _, err := os.Stat(filepath.Join(r, defaultStatePath)); !os.IsNotExist(err) {
		t.Fatalf("live state still at %s: %v", defaultStatePath, err)
	}
	kept, err := newState(f.hosts["master-2"], want).Get(ctx)
	if err != nil || kept.Identity == nil || kept.Identity.Recovery != "master-2" || !kept.Done() || len(kept.Moves) == 0 {
		t.Fatalf("retired state %+v: %v", kept, err)
	}
}
