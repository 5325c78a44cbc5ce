package restore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"github.com/lifeboat-dev/lifeboat/backup"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/plan"
)

func collect(events *[]plan.Event) func(plan.Event) {
	return func(e plan.Event) { *events = append(*events, e) }
}

func statuses(events []plan.Event) map[string]plan.Status {
	out := map[string]plan.Status{}
	for _, e := range events {
		if e.Status != plan.Progress && e.Status != plan.Started {
			out[e.Step.ID] = e.Status
		}
	}
	return out
}

func TestPlanDescribe(t *testing.T) {
	f := newFixture(t)
	p, err := planJob(f.options("master-1"))
	if err != nil {
		t.Fatal(err)
	}
	d := p.Describe()
	for _, want := range []string{"verify-backup", "stop-etcd/master-0", "move-etcd-data/master-2", "stop-static-pods/master-1",
		"restore-snapshot/master-1", "restart-kubelet/master-2", "force-redeploy/kubescheduler", "verify-members", "approve-csrs"} {
		if !strings.Contains(d, want) {
			t.Errorf("plan lacks %s:\n%s", want, d)
		}
	}
	// Building a plan touches nothing.
	if _, err := os.Stat(filepath.Join(f.roots["master-1"], "var/lib/lifeboat")); !os.IsNotExist(err) {
		t.Errorf("Plan wrote to the recovery host")
	}
}

func TestPlanRunResumesAfterFailure(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts := f.options("master-0")
	f.failRestarts["master-1"] = 1 // the second kubelet restart fails once
	var ev1 []plan.Event
	opts.Report = collect(&ev1)
	_, err := runJob(ctx, opts)
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "restart-kubelet/master-1" {
		t.Fatalf("first run: err = %v, want a failure of restart-kubelet/master-1", err)
	}
	st1 := statuses(ev1)
	if st1["restore-snapshot/master-0"] != plan.Done || st1["restart-kubelet/master-0"] != plan.Done {
		t.Fatalf("first run statuses: %v", st1)
	}

	var ev2 []plan.Event
	opts.Report = collect(&ev2)
	d, err := runJob(ctx, opts)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	st2 := statuses(ev2)
	for _, e := range ev2 {
		if e.Step.ID == "restart-kubelet/master-1" {
			break
		}
		if e.Status != plan.Skipped || !strings.HasPrefix(e.Message, "finished in an earlier run") {
			t.Fatalf("second run re-ran %s (%s %s)", e.Step.ID, e.Status, e.Message)
		}
	}
	if st2["restart-kubelet/master-1"] != plan.Done || st2["verify-members"] != plan.Done || st2["wait-rollout/etcd"] != plan.Done {
		t.Fatalf("second run statuses: %v", st2)
	}
	if f.kubelets["master-0"].Restarts() != 1 || f.kubelets["master-1"].Restarts() != 1 {
		t.Errorf("kubelet restarts: master-0 %d, master-1 %d; want 1 each", f.kubelets["master-0"].Restarts(), f.kubelets["master-1"].Restarts())
	}

	// The end state on the hosts.
	r0 := f.roots["master-0"]
	if _, err := os.Stat(filepath.Join(r0, "var/lib/etcd/member/wal")); err != nil {
		t.Errorf("recovery data dir not restored: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(r0, "var/lib/etcd-backup/member/snap/db")); string(b) != "old data of master-0" {
		t.Errorf("old data dir not kept in /var/lib/etcd-backup: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(r0, "etc/kubernetes/manifests/kube-apiserver-pod.yaml")); string(b) != podYAML("kube-apiserver", 7) {
		t.Errorf("kube-apiserver manifest is not the backup's revision 7: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(r0, "etc/kubernetes/manifests/etcd-pod.yaml")); !strings.Contains(string(b), "--name=master-0") {
		t.Errorf("etcd manifest: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(r0, defaultAsideDir, "config/static-pod-resources/kube-apiserver-pod-7/kube-apiserver-pod.yaml")); string(b) != "an older, different file\n" {
		t.Errorf("a differing static pod resource was not moved aside: %q", b)
	}
	for _, n := range []string{"master-1", "master-2"} {
		r := f.roots[n]
		for _, gone := range []string{"etc/kubernetes/manifests/etcd-pod.yaml", "etc/kubernetes/manifests/kube-apiserver-pod.yaml", "var/lib/etcd"} {
			if _, err := os.Stat(filepath.Join(r, gone)); !os.IsNotExist(err) {
				t.Errorf("%s: %s still in place", n, gone)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(r, defaultAsideDir, "etcd/member/snap/db")); string(b) != "old data of "+n {
			t.Errorf("%s: data dir not kept aside: %q", n, b)
		}
	}
	if d.Restore == nil || d.Restore.Method != InProcess || d.Restore.Member != "master-0" || d.Restore.PeerURL != f.peers["master-0"] {
		t.Errorf("restore record %+v", d.Restore)
	}
	ci, err := snapshotConsistentIndex(context.Background(), filepath.Join(f.backupDir, "snapshot_2026-11-24_180000.db"))
	if err != nil || ci == 0 {
		t.Fatalf("consistent index of the backup: %d, %v", ci, err)
	}
	if want := f.snapRev + int64(revisionBumpFor(5000, ci)); d.Restore.NewRevision != want {
		t.Errorf("new revision %d, want %d (bump sized from revision.json)", d.Restore.NewRevision, want)
	}
	// The finished run's state was retired, kept for audit.
	undo, err := newState(f.hosts["master-0"], d.RetiredTo).Undo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(undo) < 8 {
		t.Errorf("undo lists %d moves: %+v", len(undo), undo)
	}

	if _, err := os.Stat(filepath.Join(r0, defaultStatePath)); !os.IsNotExist(err) {
		t.Errorf("the finished run's state is still live at %s: %v", defaultStatePath, err)
	}
}

func TestPlanCancelledThenResumed(t *testing.T) {
	f := newFixture(t)
	opts := f.options("master-2")
	ctx, cancel := context.WithCancel(context.Background())
	opts.Report = func(e plan.Event) {
		if e.Step.ID == "extract-resources/master-2" && e.Status == plan.Done {
			cancel()
		}
	}
	_, err := runJob(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	opts.Report = nil
	d, err := runJob(context.Background(), opts)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if d.Restore == nil || d.Restore.Member != "master-2" {
		t.Fatalf("restore record %+v", d.Restore)
	}
}

func TestPlanRefusalsTouchNothing(t *testing.T) {
	cases := []struct {
		name   string
		modify func(t *testing.T, f *fixture, o *job)
		want   error
	}{
		{"corrupt snapshot", func(t *testing.T, f *fixture, o *job) {
			p := globOne(t, f.backupDir, "snapshot_*.db")
			b, _ := os.ReadFile(p)
			b[len(b)/3] ^= 0x5a
			os.WriteFile(p, b, 0o600)
		}, backup.ErrHashMismatch},
		{"truncated snapshot", func(t *testing.T, f *fixture, o *job) {
			p := globOne(t, f.backupDir, "snapshot_*.db")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-700], 0o600)
		}, backup.ErrTruncated},
		{"backup from another z-stream", func(t *testing.T, f *fixture, o *job) {
			o.ClusterVersion = "4.5.3"
		}, ErrVersionMismatch},
		{"archive with a ../ entry", func(t *testing.T, f *fixture, o *job) {
			p := globOne(t, f.backupDir, "static_kuberesources_*.tar.gz")
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			tw := tar.NewWriter(zw)
			for name, body := range map[string]string{
				"static-pod-resources/etcd-pod-3/etcd-pod.yaml": etcdPodYAML("master-0", "https://10.0.0.10:2380", 3),
				"static-pod-resources/../../../var/lib/evil":    "x",
			} {
				tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
				tw.Write([]byte(body))
			}
			tw.Close()
			zw.Close()
			os.WriteFile(p, buf.Bytes(), 0o600)
		}, backup.ErrUnsafeEntry},
		{"archive without a component", func(t *testing.T, f *fixture, o *job) {
			p := globOne(t, f.backupDir, "static_kuberesources_*.tar.gz")
			os.WriteFile(p, archive(t, map[string]string{"static-pod-resources/etcd-pod-3/etcd-pod.yaml": "x"}), 0o600)
		}, backup.ErrInvalidBackup},
		{"backup records an unparsable etcd version", func(t *testing.T, f *fixture, o *job) {
			m, err := backup.ReadManifest(f.backupDir)
			if err != nil {
				t.Fatal(err)
			}
			m.EtcdVersion = "three"
			if err := backup.WriteManifest(f.backupDir, m); err != nil {
				t.Fatal(err)
			}
		}, backup.ErrBadManifest},
		{"missing snapshot", func(t *testing.T, f *fixture, o *job) {
			os.Remove(globOne(t, f.backupDir, "snapshot_*.db"))
		}, backup.ErrInvalidBackup},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts := f.options("master-0")
			tc.modify(t, f, &opts)
			before := f.snapshotTrees(t)
			_, err := runJob(context.Background(), opts)
			var se *plan.StepError
			if !errors.As(err, &se) || se.Step != "verify-backup" || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want verify-backup to fail with %v", err, tc.want)
			}
			if after := f.snapshotTrees(t); after != before {
				t.Fatal("a refused restore changed a host")
			}
		})
	}
}

func TestDryRunTouchesNothing(t *testing.T) {
	f := newFixture(t)
	opts := f.options("master-0")
	opts.DryRun = true
	var evs []plan.Event
	opts.Report = collect(&evs)
	before := f.snapshotTrees(t)
	if _, err := runJob(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if after := f.snapshotTrees(t); after != before {
		t.Fatal("dry run changed a host")
	}
	st := statuses(evs)
	if st["verify-backup"] != plan.Done || st["restore-snapshot/master-0"] != plan.WouldRun {
		t.Fatalf("dry run statuses %v", st)
	}
}

func globOne(t *testing.T, dir, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	if len(m) != 1 {
		t.Fatalf("%s in %s: %v", pattern, dir, m)
	}
	return m[0]
}

// TestPlanRestorePodPath runs the plan with the restore pod forced (what
// happens when the cluster's etcd is older than lifeboat's libraries or the
// recovery host is remote): the snapshot is staged in /var/lib/etcd-backup
// and etcd-pod.yaml is the restore pod built from the host's own manifest.
func TestPlanRestorePodPath(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*job)
	}{
		{"forced", func(o *job) { o.ForceRestorePod = true }},
		// Without an in-process writer (restore/inprocess) the plan must
		// not try to restore in process: the restore pod restores.
		{"no in-process writer", func(o *job) { o.InProcess = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts := f.options("master-1")
			tc.set(&opts)
			d, err := runJob(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if d.Restore.Method != RestorePod || d.Restore.Member != "master-1" {
				t.Fatalf("restore record %+v", d.Restore)
			}
			r := f.roots["master-1"]
			staged, err := os.ReadFile(filepath.Join(r, "var/lib/etcd-backup/snapshot.db"))
			orig, _ := os.ReadFile(globOne(t, f.backupDir, "snapshot_*.db"))
			if err != nil || !bytes.Equal(staged, orig) {
				t.Fatalf("snapshot not staged: %v", err)
			}
			m, err := os.ReadFile(filepath.Join(r, "etc/kubernetes/manifests/etcd-pod.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{restorePodAnnotation, "--name master-1", "--initial-advertise-peer-urls " + f.peers["master-1"], "--bump-revision"} {
				if !strings.Contains(string(m), want) {
					t.Errorf("restore pod lacks %q", want)
				}
			}
			if entries, _ := os.ReadDir(filepath.Join(r, "var/lib/etcd")); len(entries) != 0 {
				t.Errorf("the data directory must be left empty for the restore pod: %v", entries)
			}
		})
	}
}
