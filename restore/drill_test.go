package restore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/restore"
	"github.com/lifeboat-dev/lifeboat/restore/inprocess"
)

// drill is the disaster the runbook's chapter 5 recovers from: an
// important namespace deleted, objects written afterwards, then two of
// three etcd members killed (quorum lost).
type drill struct {
	c         *clustertest.Cluster
	backupDir string
	oldRV     string // a resourceVersion from before the restore
	recovery  string
	others    []string
	began     time.Time // when the drill started its cluster
}

const drillNS = "lifeboat-drill"

// startDrill prepares the disaster; with loseHosts the two other masters
// are lost with their disks (LoseHost) instead of having etcd killed.
//
// A drill runs in parallel with the package's other drills (at most
// -parallel, GOMAXPROCS by default, at once): each has its own cluster,
// ports, directories and backup, and spends most of its time waiting on
// the simulation, so two of them overlap their waits. Call it before
// anything the test times.
func startDrill(t *testing.T, loseHosts bool) *drill {
	t.Helper()
	return startDrillOf(t, loseHosts, "")
}

// startDrillOf is startDrill on a cluster of release rel ("" the
// default, 4.5.2).
func startDrillOf(t *testing.T, loseHosts bool, rel string) *drill {
	t.Helper()
	return startDrillWith(t, loseHosts, rel, true)
}

// startDrillWith is startDrillOf, in parallel with the other drills or
// not: a test that sets the process environment (t.Setenv, as the object
// storage servers of internal/s3test do) cannot run in parallel.
func startDrillWith(t *testing.T, loseHosts bool, rel string, parallel bool) *drill {
	t.Helper()
	if _, err := clustertest.FindBinaries(); err != nil {
		t.Skipf("etcd and kube-apiserver binaries missing (run hack/tools.sh): %v", err)
	}
	if parallel {
		t.Parallel()
	}
	began := time.Now()
	ctx := t.Context()
	c := clustertest.Start(t, clustertest.Options{Interval: 100 * time.Millisecond, Release: rel})
	d := &drill{c: c, backupDir: t.TempDir(), began: began}
	masters := c.Masters()
	d.recovery, d.others = masters[0], masters[1:]

	// The namespace the administrator will lose.
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: drillNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kube.CoreV1().ConfigMaps(drillNS).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "important"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kube.CoreV1().Secrets(drillNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "credentials"}, Data: map[string][]byte{"token": []byte("s3cr3t")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Back up (chapter 1) from the recovery host.
	etcd, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := new(backup.Backup)
	take, err := backup.TakePlan(backup.TakeDeps{Etcd: etcd, Host: c.Host(d.recovery), Config: c.Config},
		backup.TakeOptions{Dir: d.backupDir, MinClusterAge: -1, Result: b})
	if err == nil {
		err = take.Run(ctx, plan.RunOptions{})
	}
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	t.Logf("backup %s at revision %d (cluster %s, etcd %s)", b.Snapshot.Name, b.Revision, b.ClusterVersion, b.EtcdVersion)

	// The accident, and life going on after it.
	if err := c.Kube.CoreV1().Namespaces().Delete(ctx, drillNS, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := c.Kube.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "written-after-backup"}, Data: map[string]string{"x": "y"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.oldRV = cm.ResourceVersion

	// Quorum loss. With loseHosts the first other master is lost with its
	// disk (LoseHost needs the API, so it goes first) and the second has
	// its etcd killed.
	for i, n := range d.others {
		fault := c.KillEtcd
		if loseHosts && i == 0 {
			fault = c.LoseHost
		}
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := fault(fctx, n)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// job is one call of restore.Run as the drills build it, field by field:
// its deps, options and run options, embedded so that a drill sets
// o.Others, o.LostMasters or o.Report alike.
type job struct {
	restore.Deps
	restore.Options
	plan.RunOptions
}

func runRestore(ctx context.Context, j job) (*restore.StateData, error) {
	return restore.Run(ctx, j.Deps, j.Options, j.RunOptions)
}

func (d *drill) options(t *testing.T) job {
	o := job{
		Deps: restore.Deps{
			InProcess: inprocess.WriteDataDir,
			Recovery:  d.c.Host(d.recovery),
			Kube:      d.c.Kube,
			Operator:  d.c.Operator,
			Machine:   d.c.Machine,
		},
		Options: restore.Options{
			BackupDir:      d.backupDir,
			ClusterVersion: "4.5.2",
			Interval:       200 * time.Millisecond,
			APITimeout:     3 * time.Minute, ContainerTimeout: time.Minute, RolloutTimeout: 3 * time.Minute,
		},
		RunOptions: plan.RunOptions{Report: func(e plan.Event) { t.Log(e.String()) }},
	}
	for _, n := range d.others {
		o.Others = append(o.Others, d.c.Host(n))
	}
	return o
}

// check asserts the end state the runbook's verification checks, and the
// data: the deleted namespace is back, later objects are gone, and old
// watches are told their revision is compacted.
func (d *drill) check(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	kube := d.c.Kube
	ns, err := kube.CoreV1().Namespaces().Get(ctx, drillNS, metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("namespace %s: %v %v", drillNS, err, ns.Status.Phase)
	}
	cm, err := kube.CoreV1().ConfigMaps(drillNS).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil || cm.Data["mode"] != "important" {
		t.Errorf("configmap: %v %v", err, cm.Data)
	}
	sec, err := kube.CoreV1().Secrets(drillNS).Get(ctx, "credentials", metav1.GetOptions{})
	if err != nil || string(sec.Data["token"]) != "s3cr3t" {
		t.Errorf("secret: %v (data restored: %v)", err, err == nil && string(sec.Data["token"]) == "s3cr3t")
	}
	if _, err := kube.CoreV1().ConfigMaps("default").Get(ctx, "written-after-backup", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("object written after the backup: err %v, want NotFound", err)
	}

	// A watch from before the restore is refused as too old (410).
	w, err := kube.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{ResourceVersion: d.oldRV})
	switch {
	case err != nil:
		if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
			t.Errorf("watch from resourceVersion %s: %v, want 410 Gone", d.oldRV, err)
		}
	default:
		select {
		case ev := <-w.ResultChan():
			st, ok := ev.Object.(*metav1.Status)
			if ev.Type != watch.Error || !ok || st.Code != http.StatusGone {
				t.Errorf("watch from resourceVersion %s: first event %s %v, want an Error event with code 410", d.oldRV, ev.Type, ev.Object)
			} else {
				t.Logf("watch from the old resourceVersion %s: %s", d.oldRV, st.Message)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("watch from resourceVersion %s: no event (stale objects may be served)", d.oldRV)
		}
		w.Stop()
	}

	// Every operator at its latest revision.
	for _, op := range []lifecycle.Operator{lifecycle.Etcd, lifecycle.KubeAPIServer, lifecycle.KubeControllerManager, lifecycle.KubeScheduler} {
		st, err := lifecycle.Revisions(ctx, d.c.Operator, op)
		if err != nil || !st.AllAtLatest() {
			t.Errorf("%s: %v %v", op, err, st)
		} else {
			t.Logf("%s: %s", op, st.Summary())
		}
	}

	// Three healthy members.
	etcd, err := d.c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	members, err := etcd.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 3 {
		t.Errorf("%d members, want 3: %v", len(members.Members), members.Members)
	}
	for _, m := range members.Members {
		if len(m.ClientURLs) == 0 {
			t.Errorf("member %s has not started", m.Name)
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second) // catches a hang only
		st, err := etcd.Status(sctx, m.ClientURLs[0])
		cancel()
		if err != nil || len(st.Errors) > 0 {
			t.Errorf("member %s: %v %v", m.Name, err, st)
		}
	}
	if _, err := etcd.Get(ctx, "/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil {
		t.Errorf("etcd read: %v", err)
	}
}

func TestDrillRestoreToPreviousState(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	d := startDrill(t, false)
	setup := time.Since(d.began)
	t0 := time.Now()
	state, err := runRestore(t.Context(), d.options(t))
	if err != nil {
		d.c.LogTails(t, 40)
		t.Fatalf("restore: %v", err)
	}
	t.Logf("drill: cluster and backup %s, restore plan %s; revision bumped by %d to %d",
		setup.Round(time.Second), time.Since(t0).Round(time.Second), state.Restore.RevisionBump, state.Restore.NewRevision)
	d.check(t)
	fmt.Fprintf(os.Stderr, "DRILL total %s (restore plan %s)\n", time.Since(d.began).Round(time.Second), time.Since(t0).Round(time.Second))
}

func TestDrillCancelledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	d := startDrill(t, false)
	opts := d.options(t)
	ctx, cancel := context.WithCancel(t.Context())
	report := opts.Report
	opts.Report = func(e plan.Event) {
		report(e)
		// Cancel in the middle: every data directory is moved aside, the
		// snapshot not restored yet.
		if strings.HasPrefix(e.Step.ID, "restore-snapshot/") && e.Status == plan.Started {
			cancel()
		}
	}
	_, err := runRestore(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	opts.Report = report
	if _, err := runRestore(t.Context(), opts); err != nil {
		d.c.LogTails(t, 40)
		t.Fatalf("resumed run: %v", err)
	}
	d.check(t)
}

// TestDrillLostMasters is section 5.2: one master is lost with its disk
// and another has its etcd killed (quorum lost); the restore runs with the
// survivors and replaces the lost master's Machine, whose new host joins
// as a member.
func TestDrillLostMasters(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	d := startDrill(t, true)
	lost := d.others[0]
	opts := d.options(t)
	opts.Others, opts.LostMasters = []host.Host{d.c.Host(d.others[1])}, []string{lost}
	if _, err := runRestore(t.Context(), opts); err != nil {
		d.c.LogTails(t, 40)
		t.Fatalf("restore: %v", err)
	}
	masters := d.c.Masters()
	if len(masters) != 3 {
		t.Errorf("masters after the restore: %v", masters)
	}
	for _, n := range masters {
		if n == lost {
			t.Errorf("lost master %s is still a node", n)
		}
	}
	d.check(t)
}

var _ host.Host = (*clustertest.Host)(nil)
