package restore_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/crashtest"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
	"github.com/lifeboat-dev/lifeboat/restore"
)

// The DR drill on a simulated 4.20.3 cluster, with its own procedure: the
// etcd-only restore that restore.Run chooses from the ClusterVersion.

const etcdOnlyRelease = "4.20.3"

// etcdOnlyOptions are the drill's options for the etcd-only restore: the
// config client (the ClusterVersion decides, the ClusterOperators are
// waited for) and a short stable period.
func (d *drill) etcdOnlyOptions(t *testing.T) job {
	o := d.options(t)
	o.ClusterVersion = etcdOnlyRelease
	o.Config = d.c.Config
	o.StablePeriod, o.StableTimeout = 5*time.Second, 4*time.Minute
	return o
}

// manifestsOf reads the kube-apiserver, kcm and scheduler manifests of
// the surviving masters, which the etcd-only restore must not touch.
func (d *drill) manifestsOf(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range append([]string{d.recovery}, d.others...) {
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
			b, err := d.c.Host(n).ReadFile(t.Context(), restore.DefaultManifestDir+"/"+c+"-pod.yaml")
			if err != nil {
				t.Fatalf("%s: %s: %v", n, c, err)
			}
			out[n+"/"+c] = string(b)
		}
	}
	return out
}

// setOverrides gives the Etcd object overrides (an unrelated key) that the
// guard's toggling must keep.
func (d *drill) setOverrides(t *testing.T, raw string) {
	t.Helper()
	e, err := d.c.Operator.OperatorV1().Etcds().Get(t.Context(), "cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Spec.UnsupportedConfigOverrides.Raw = []byte(raw)
	if _, err := d.c.Operator.OperatorV1().Etcds().Update(t.Context(), e, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// checkGuardOn checks the quorum guard override is back as found.
func (d *drill) checkGuardOn(t *testing.T, want string) {
	t.Helper()
	e, err := d.c.Operator.OperatorV1().Etcds().Get(t.Context(), "cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got, exp any
	_ = json.Unmarshal(e.Spec.UnsupportedConfigOverrides.Raw, &got)
	_ = json.Unmarshal([]byte(want), &exp)
	if g, _ := json.Marshal(got); string(g) != mustMarshal(exp) {
		t.Errorf("unsupportedConfigOverrides after the restore %s, want %s (the guard on, other keys kept)", e.Spec.UnsupportedConfigOverrides.Raw, want)
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDrillEtcdOnlyRelease: namespace deleted, objects written, two
// masters' etcd killed; restore.Run on the 4.20.3 cluster chooses the
// etcd-only procedure (the dry run names the generation and the
// ClusterVersion that decided it), restores only etcd, turns the guard
// off while the operator brings the other members back, and puts it back;
// the namespace is back, later objects gone, old watches compacted.
func TestDrillEtcdOnlyRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	start := time.Now()
	d := startDrillOf(t, false, etcdOnlyRelease)
	// An unrelated override key, set on the restored Etcd object once the
	// API is back (just before the guard is turned off), must survive.
	const overrides = `{"lifeboat-test":"kept"}`
	opts := d.etcdOnlyOptions(t)

	// Dry run: the generation, the evidence, the etcd-only steps.
	var lines []string
	steps := map[string]bool{}
	dry := opts
	dry.DryRun = true
	dry.Report = func(e plan.Event) {
		t.Log(e.String())
		steps[e.Step.ID] = true
		if e.Step.ID == "verify-backup" && e.Status == plan.Progress && strings.HasPrefix(e.Message, "release ") {
			lines = append(lines, e.Message)
		}
	}
	if _, err := runRestore(t.Context(), dry); err != nil {
		// The API is down (quorum lost): the recovery host decides.
		t.Fatalf("dry run: %v", err)
	}
	if len(lines) == 0 || !strings.Contains(lines[0], "generation etcd-only (4.18+)") || !strings.Contains(lines[0], "from ") {
		t.Errorf("dry run release line %q, want the etcd-only generation and its evidence", lines)
	}
	for _, id := range []string{"stop-etcd/" + d.recovery, "quorum-guard-off", "wait-stable", "quorum-guard-on"} {
		if !steps[id] {
			t.Errorf("dry run lists no step %s", id)
		}
	}
	if steps["force-redeploy/kube-apiserver"] || steps["stop-kube-apiserver/"+d.others[0]] {
		t.Error("dry run lists classic steps")
	}

	before := d.manifestsOf(t)
	t0 := time.Now()
	var guardAtWait bool
	opts.Report = func(e plan.Event) {
		t.Log(e.String())
		if e.Step.ID == "quorum-guard-off" && e.Status == plan.Started {
			d.setOverrides(t, overrides)
		}
		if e.Step.ID == "wait-stable" && e.Status == plan.Started {
			g, err := lifecycle.ReadQuorumGuard(t.Context(), d.c.Operator)
			guardAtWait = err == nil && g.Disabled()
		}
	}
	state, err := runRestore(t.Context(), opts)
	if err != nil {
		d.dumpEtcdOperator(t)
		t.Fatalf("restore: %v", err)
	}
	t.Logf("etcd-only drill: setup %s, restore plan %s; revision bumped by %d to %d",
		t0.Sub(start).Round(time.Second), time.Since(t0).Round(time.Second), state.Restore.RevisionBump, state.Restore.NewRevision)
	if state.Release == nil || state.Release.Generation != release.GenerationEtcdOnly {
		t.Errorf("state release %+v", state.Release)
	}
	if !guardAtWait {
		t.Error("the quorum guard was not off while the cluster settled")
	}
	if state.QuorumGuard == nil || !state.QuorumGuard.Restored {
		t.Errorf("guard record %+v", state.QuorumGuard)
	}
	d.checkGuardOn(t, overrides)
	after := d.manifestsOf(t)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed by the etcd-only restore", k)
		}
	}
	d.check(t)
}

// TestCrashEtcdOnlyGuardOff: the etcd-only restore is killed (SIGKILL)
// while it waits for a stable cluster with the quorum guard off; the
// resumed run finishes and the guard is back on, the other override key
// kept.
func TestCrashEtcdOnlyGuardOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole simulated cluster")
	}
	d := startDrillOf(t, false, etcdOnlyRelease)
	params := crashParams{BackupDir: d.backupDir, Recovery: d.recovery, Others: d.others, ClusterVersion: etcdOnlyRelease,
		DetectRelease: true, StablePeriod: 5 * time.Second}
	spec := crashtest.Spec{
		Kubeconfig: d.c.KubeconfigPath,
		RuntimeURL: crashtest.ServeRuntime(t, func(n string) host.Host {
			if h := d.c.Host(n); h != nil {
				return h
			}
			return nil
		}),
		StateHost: d.recovery,
		StatePath: restore.DefaultStatePath,
		KillStep:  "wait-stable",
		KillAt:    crashtest.PointFirst,
	}
	for _, n := range append([]string{d.recovery}, d.others...) {
		spec.Hosts = append(spec.Hosts, crashtest.HostSpec{Name: n, Root: d.c.Host(n).Root()})
	}
	var err error
	if spec.Params, err = json.Marshal(params); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := crashtest.Run(t, spec, dir, "killed", 15*time.Minute)
	t.Logf("first child: killed %v in step %v at %q after %s", first.Killed, first.InStep, first.Point, first.Elapsed.Round(time.Second))
	if first.Err != nil || !first.Killed || !first.InStep {
		t.Fatalf("first run not killed in wait-stable: %v; log:\n%s", first.Err, crashtest.Tail(first.Log, 60))
	}
	// Killed with the guard off: nothing put it back.
	g, err := lifecycle.ReadQuorumGuard(t.Context(), d.c.Operator)
	if err != nil || !g.Disabled() {
		t.Fatalf("after the kill the guard is %s (%v), want off", g, err)
	}
	st, err := restore.NewState(d.c.Host(d.recovery), restore.DefaultStatePath).Get(t.Context())
	if err != nil || st.QuorumGuard == nil || st.QuorumGuard.Restored || st.QuorumGuard.Previous.Disabled() {
		t.Fatalf("state after the kill: guard record %+v, %v", st.QuorumGuard, err)
	}

	spec.KillStep, spec.KillAt = "", ""
	second := crashtest.Run(t, spec, dir, "resumed", 15*time.Minute)
	t.Logf("second child: %s, err %v", second.Elapsed.Round(time.Second), second.Err)
	if second.Err != nil {
		d.dumpEtcdOperator(t)
		t.Fatalf("resumed run: %v\n%s", second.Err, crashtest.Tail(second.Log, 60))
	}
	if n := resumedSkips(t, second.Log); n == 0 {
		t.Error("the resumed run skipped no finished step")
	}
	d.checkGuardOn(t, "{}")
	d.check(t)
}

// dumpEtcdOperator logs what the simulated etcd operator did: its status
// and its controller's log lines.
func (d *drill) dumpEtcdOperator(t *testing.T) {
	t.Helper()
	if e, err := d.c.Operator.OperatorV1().Etcds().Get(context.Background(), "cluster", metav1.GetOptions{}); err == nil {
		t.Logf("etcd operator: latest %d, nodes %+v, overrides %s", e.Status.LatestAvailableRevision, e.Status.NodeStatuses, e.Spec.UnsupportedConfigOverrides.Raw)
		for _, c := range e.Status.Conditions {
			t.Logf("  %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
		}
	} else {
		t.Logf("etcd operator: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(d.c.Dir(), "logs", "clustertest.log"))
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "etcd-operator") || strings.Contains(l, "learner") || strings.Contains(l, "installing") {
			if n++; n > 80 {
				break
			}
			t.Log(l)
		}
	}
	d.c.LogTails(t, 20)
}
