package restore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// etcdOnlyFixture is the fixture as a 4.20.3 cluster: the recovery host's
// etcd pod has etcd-rev, the ClusterVersion says 4.20.3, the
// ClusterOperators are as stable says, and the Etcd object carries an
// unrelated override key that must survive the guard's toggling.
func etcdOnlyFixture(t *testing.T, stable bool) (*fixture, job, *configfake.Clientset) {
	t.Helper()
	f := newFixture(t)
	etcdOnlyHost(t, f, "master-0")
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version"}}
	cv.Status.Desired.Version = "4.20.3"
	cv.Status.History = []configv1.UpdateHistory{{State: configv1.CompletedUpdate, Version: "4.20.3"}}
	objs := []runtime.Object{cv}
	for _, n := range []string{"etcd", "kube-apiserver", "dns"} {
		prog := configv1.ConditionFalse
		if !stable && n == "etcd" {
			prog = configv1.ConditionTrue
		}
		objs = append(objs, &configv1.ClusterOperator{ObjectMeta: metav1.ObjectMeta{Name: n}, Status: configv1.ClusterOperatorStatus{Conditions: []configv1.ClusterOperatorStatusCondition{
			{Type: configv1.OperatorAvailable, Status: configv1.ConditionTrue},
			{Type: configv1.OperatorProgressing, Status: prog, Message: "NodeInstallerProgressing: 2 nodes are at revision 4; 1 nodes are at revision 5"},
			{Type: configv1.OperatorDegraded, Status: configv1.ConditionFalse},
		}}})
	}
	cfg := configfake.NewClientset(objs...)
	etcd, err := f.ops.OperatorV1().Etcds().Get(context.Background(), "cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	etcd.Spec.UnsupportedConfigOverrides = runtime.RawExtension{Raw: []byte(`{"keep":"me"}`)}
	if _, err := f.ops.OperatorV1().Etcds().Update(context.Background(), etcd, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	o := f.options("master-0")
	o.Release = release.Options{}
	o.ClusterVersion = ""
	o.Config = cfg
	o.StablePeriod, o.StableTimeout = 50*time.Millisecond, 2*time.Second
	return f, o, cfg
}

func guardOf(t *testing.T, f *fixture) (lifecycle.QuorumGuard, string) {
	t.Helper()
	g, err := lifecycle.ReadQuorumGuard(context.Background(), f.ops)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := f.ops.OperatorV1().Etcds().Get(context.Background(), "cluster", metav1.GetOptions{})
	return g, string(e.Spec.UnsupportedConfigOverrides.Raw)
}

// guardWatch records the guard as each step of interest starts.
type guardWatch struct {
	mu  sync.Mutex
	off map[string]bool
}

func (w *guardWatch) report(t *testing.T, f *fixture, next func(plan.Event)) func(plan.Event) {
	w.off = map[string]bool{}
	return func(e plan.Event) {
		if e.Status == plan.Started && (e.Step.ID == "wait-stable" || e.Step.ID == "verify-members") {
			g, _ := guardOf(t, f)
			w.mu.Lock()
			w.off[e.Step.ID] = g.Disabled()
			w.mu.Unlock()
		}
		if next != nil {
			next(e)
		}
	}
}

// TestEtcdOnlyRestore runs the etcd-only plan on a cluster decided 4.18+:
// only etcd stops, kube-apiserver, kcm and scheduler are untouched on
// every host, revision.json moves aside and sizes the bump, the guard is
// off while the cluster settles and back as found (other keys kept) at
// the end.
func TestEtcdOnlyRestore(t *testing.T) {
	f, o, _ := etcdOnlyFixture(t, true)
	before := map[string][]byte{}
	for _, n := range fixtureMasters {
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			b, _ := os.ReadFile(filepath.Join(f.roots[n], "etc/kubernetes/manifests", c+"-pod.yaml"))
			before[n+"/"+c] = b
		}
	}
	var evs []plan.Event
	w := &guardWatch{}
	o.Report = w.report(t, f, collect(&evs))
	d, err := runJob(t.Context(), o)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if line := releaseLineOf(evs); !strings.Contains(line, "release 4.20.3: generation etcd-only (4.18+), from ClusterVersion") {
		t.Errorf("release line %q", line)
	}
	checkPlanGeneration(t, evs, true)
	for k, b := range before {
		n, c, _ := strings.Cut(k, "/")
		got, err := os.ReadFile(filepath.Join(f.roots[n], "etc/kubernetes/manifests", c+"-pod.yaml"))
		if err != nil || string(got) != string(b) {
			t.Errorf("%s: %s-pod.yaml was touched (%v)", n, c, err)
		}
	}
	for _, n := range []string{"master-1", "master-2"} {
		if _, err := os.Stat(filepath.Join(f.roots[n], "etc/kubernetes/manifests/etcd-pod.yaml")); !os.IsNotExist(err) {
			t.Errorf("%s: etcd-pod.yaml still in place (the operator's next revision puts a new one): %v", n, err)
		}
		if b, _ := os.ReadFile(filepath.Join(f.roots[n], defaultAsideDir, "manifests/etcd-pod.yaml")); !strings.Contains(string(b), "--name="+n) {
			t.Errorf("%s: etcd-pod.yaml not kept aside: %q", n, b)
		}
	}
	r0 := f.roots["master-0"]
	if _, err := os.Stat(filepath.Join(r0, "var/lib/etcd/member/wal")); err != nil {
		t.Errorf("recovery data dir not restored: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(r0, "var/lib/etcd-backup/revision.json")); string(b) != `{"maxRaftIndex":5000}` {
		t.Errorf("revision.json not moved to /var/lib/etcd-backup: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(r0, "var/lib/etcd/revision.json")); string(b) != `{"maxRaftIndex":5000}` {
		t.Errorf("revision.json not put back into the restored data directory: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(r0, "var/lib/etcd-backup/member/snap/db")); string(b) != "old data of master-0" {
		t.Errorf("old data dir not kept: %q", b)
	}
	ci, err := snapshotConsistentIndex(t.Context(), filepath.Join(f.backupDir, "snapshot_2026-11-24_180000.db"))
	if err != nil {
		t.Fatal(err)
	}
	if want := f.snapRev + int64(revisionBumpFor(5000, ci)); d.Restore == nil || d.Restore.NewRevision != want {
		t.Errorf("restore record %+v, want new revision %d (bump from revision.json)", d.Restore, want)
	}
	if !w.off["wait-stable"] || w.off["verify-members"] {
		t.Errorf("guard off at wait-stable %v (want true), at verify-members %v (want false)", w.off["wait-stable"], w.off["verify-members"])
	}
	g, raw := guardOf(t, f)
	if g.Set || raw != `{"keep":"me"}` {
		t.Errorf("overrides after the run %s, want the original {\"keep\":\"me\"}", raw)
	}
	if d.QuorumGuard == nil || !d.QuorumGuard.Restored || d.QuorumGuard.RestoredBy != "quorum-guard-on" || d.QuorumGuard.DisabledAt.IsZero() {
		t.Errorf("guard record %+v", d.QuorumGuard)
	}
	if d.Release == nil || d.Release.Generation != release.GenerationEtcdOnly {
		t.Errorf("release record %+v", d.Release)
	}
}

// TestEtcdOnlyGuardRestoredOnFailure: a cluster that never settles gets
// one forced etcd redeployment (said so), then the run fails; the guard
// is back as found, and a resumed run turns it off again, waits, and
// turns it back on.
func TestEtcdOnlyGuardRestoredOnFailure(t *testing.T) {
	f, o, cfg := etcdOnlyFixture(t, false)
	var evs []plan.Event
	o.Report = collect(&evs)
	d, err := runJob(t.Context(), o)
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "wait-stable" || !errors.Is(err, lifecycle.ErrClusterNotStable) {
		t.Fatalf("err = %v, want wait-stable failing with ErrClusterNotStable", err)
	}
	if !strings.Contains(err.Error(), "etcd Available=True Progressing=True") {
		t.Errorf("error does not name the unstable operator: %v", err)
	}
	said := false
	for _, e := range evs {
		if e.Step.ID == "wait-stable" && strings.Contains(e.Message, "forcing an etcd redeployment") {
			said = true
		}
	}
	if !said {
		t.Error("no progress line says the etcd redeployment was forced")
	}
	if d == nil || d.Redeploys["etcd"].Reason == "" {
		t.Errorf("the forced redeployment is not recorded: %+v", d)
	}
	g, raw := guardOf(t, f)
	if g.Disabled() || raw != `{"keep":"me"}` {
		t.Fatalf("after the failure overrides = %s, want the original", raw)
	}
	if d.QuorumGuard == nil || !d.QuorumGuard.Restored || d.QuorumGuard.RestoredBy != "exit" {
		t.Errorf("guard record %+v", d.QuorumGuard)
	}
	if _, ok := d.Finished["quorum-guard-off"]; ok {
		t.Error("quorum-guard-off still recorded as finished: a resumed run would wait with the guard on")
	}

	// The cluster settles; the resumed run finishes with the guard on.
	co, err := cfg.ConfigV1().ClusterOperators().Get(t.Context(), "etcd", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	co.Status.Conditions[1].Status = configv1.ConditionFalse
	if _, err := cfg.ConfigV1().ClusterOperators().UpdateStatus(t.Context(), co, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w := &guardWatch{}
	o.Report = w.report(t, f, nil)
	if _, err := runJob(t.Context(), o); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if !w.off["wait-stable"] {
		t.Error("the resumed run waited with the guard on")
	}
	if g, raw := guardOf(t, f); g.Disabled() || raw != `{"keep":"me"}` {
		t.Errorf("after the resumed run overrides = %s", raw)
	}
}

// TestEtcdOnlyGuardRestoredOnCancel: cancelling while the cluster settles
// puts the guard back before Run returns; a guard that was already off
// before the restore stays off.
func TestEtcdOnlyGuardRestoredOnCancel(t *testing.T) {
	for _, already := range []bool{false, true} {
		t.Run(map[bool]string{false: "guard on before", true: "guard already off before"}[already], func(t *testing.T) {
			f, o, _ := etcdOnlyFixture(t, false)
			want := `{"keep":"me"}`
			if already {
				want = `{"keep":"me","useUnsupportedUnsafeNonHANonProductionUnstableEtcd":"true"}`
				e, _ := f.ops.OperatorV1().Etcds().Get(t.Context(), "cluster", metav1.GetOptions{})
				e.Spec.UnsupportedConfigOverrides.Raw = []byte(want)
				if _, err := f.ops.OperatorV1().Etcds().Update(t.Context(), e, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			o.StableTimeout = time.Hour
			ctx, cancel := context.WithCancel(t.Context())
			o.Report = func(e plan.Event) {
				if e.Step.ID == "wait-stable" && e.Status == plan.Progress {
					cancel()
				}
			}
			_, err := runJob(ctx, o)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			g, raw := guardOf(t, f)
			if g.Disabled() != already || raw != want {
				t.Errorf("after the cancel overrides = %s, want %s", raw, want)
			}
		})
	}
}

// TestEtcdOnlyClassicPlanRefuses: a plan built by Plan without a stated
// release is the classic one; on an etcd-only cluster its verify-backup
// refuses with the typed error, telling how to get the etcd-only plan.
func TestEtcdOnlyClassicPlanRefuses(t *testing.T) {
	_, o, _ := etcdOnlyFixture(t, true)
	p, err := planJob(o)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(t.Context(), plan.RunOptions{})
	var me *ReleaseMismatchError
	if !errors.As(err, &me) || !errors.Is(err, ErrProcedureNotForRelease) || me.Decision.Generation != release.GenerationEtcdOnly {
		t.Fatalf("err = %v, want a *ReleaseMismatchError (etcd-only)", err)
	}
	if !strings.Contains(err.Error(), "restore.Run builds that procedure") {
		t.Errorf("refusal does not say how to get the etcd-only plan: %v", err)
	}
	// Stated, Plan builds the etcd-only plan.
	o.Release.Version = "4.20.3"
	p, err = planJob(o)
	if err != nil {
		t.Fatal(err)
	}
	if ids := strings.Join(stepIDs(p), " "); !strings.Contains(ids, "quorum-guard-off") || strings.Contains(ids, "kube-apiserver") {
		t.Errorf("stated 4.20.3, Plan built %s", ids)
	}
	// Without a config client the etcd-only plan cannot wait for the
	// ClusterOperators: refused before anything runs.
	o.Config = nil
	if _, err := planJob(o); !errors.Is(err, lifeboat.ErrInvalidOptions) {
		t.Errorf("etcd-only plan without Config: %v, want lifeboat.ErrInvalidOptions", err)
	}
}
