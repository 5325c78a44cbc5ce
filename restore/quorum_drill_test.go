package restore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/crashtest"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/restore"
)

// memberClient is a client of one member only (serializable reads show
// what that member holds).
func memberClient(t *testing.T, c *clustertest.Cluster, node string) *clientv3.Client {
	t.Helper()
	files := c.EtcdTLS()
	tlsCfg, err := transport.TLSInfo{TrustedCAFile: files.CAFile, CertFile: files.CertFile, KeyFile: files.KeyFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := clientv3.New(clientv3.Config{Endpoints: []string{c.Host(node).EtcdClientURL()}, TLS: tlsCfg, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// TestDrillQuorumRestore: on a simulated 4.20.3 cluster, keys and objects
// are written and acknowledged, then two masters' etcd is lost (killed;
// their data left as it is). No backup is used: RunQuorumRestore forces
// the survivor's member into a new cluster. It checks the dry run (the
// generation and evidence, the bump, the steps), the refusal when a
// master the survivor's etcd-pod.yaml names is neither given nor attested
// (nothing touched), a run cancelled with the guard off (the guard is put
// back), the resumed run, and the end state: every acknowledged write
// present, the cluster serving writes, every member back, the guard on.
func TestDrillQuorumRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	c, recovery, others := startQuorumDrill(t)
	ctx := t.Context()
	const ns = "lifeboat-quorum"

	deps := restore.Deps{Recovery: c.Host(recovery), Kube: c.Kube, Operator: c.Operator, Config: c.Config}
	opts := restore.QuorumRestoreOptions{
		Interval: 200 * time.Millisecond, APITimeout: 3 * time.Minute, ContainerTimeout: time.Minute,
		StablePeriod: 5 * time.Second, StableTimeout: 4 * time.Minute,
	}
	logged := plan.RunOptions{Report: func(e plan.Event) { t.Log(e.String()) }}
	for _, n := range others {
		deps.Others = append(deps.Others, c.Host(n))
	}
	manifest := func(n string) string {
		b, _ := c.Host(n).ReadFile(ctx, restore.DefaultManifestDir+"/etcd-pod.yaml")
		return string(b)
	}

	// Dry run: generation, evidence, bump, steps; nothing changed.
	var lines []string
	steps := map[string]bool{}
	dry := plan.RunOptions{DryRun: true, Report: func(e plan.Event) {
		t.Log(e.String())
		steps[e.Step.ID] = true
		if e.Step.ID == "check" && (e.Status == plan.Progress || e.Status == plan.Done) {
			lines = append(lines, e.Message)
		}
	}}
	if _, err := restore.RunQuorumRestore(ctx, deps, opts, dry); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"generation etcd-only (4.18+)", "from ", "revision bump "} {
		if !strings.Contains(all, want) {
			t.Errorf("dry run lines lack %q:\n%s", want, all)
		}
	}
	for _, id := range []string{"stop-etcd/" + others[0], "force-new-cluster/" + recovery, "restore-etcd-pod/" + recovery, "quorum-guard-off", "wait-stable", "quorum-guard-on"} {
		if !steps[id] {
			t.Errorf("dry run lists no step %s", id)
		}
	}

	// Refusal: one other master left out (its etcd-pod.yaml is named by
	// the survivor's) and not attested: nothing is touched.
	before := manifest(others[1])
	refused := deps
	refused.Others = deps.Others[:1]
	_, err := restore.RunQuorumRestore(ctx, refused, opts, logged)
	var nse *restore.OthersNotStoppedError
	if !errors.As(err, &nse) || !errors.Is(err, restore.ErrOthersNotStopped) || nse.Hosts[others[1]] == "" {
		t.Fatalf("run without %s: %v, want *OthersNotStoppedError naming it", others[1], err)
	}
	if manifest(others[1]) != before || manifest(recovery) == "" {
		t.Fatal("the refused run touched a host")
	}

	// Cancelled with the guard off: the guard goes back.
	cctx, cancel := context.WithCancel(ctx)
	cancelled := plan.RunOptions{Report: func(e plan.Event) {
		t.Log(e.String())
		if e.Step.ID == "wait-stable" && e.Status == plan.Started {
			if g, err := lifecycle.ReadQuorumGuard(ctx, c.Operator); err != nil || !g.Disabled() {
				t.Errorf("the guard is %v (%v) while the cluster settles, want off", g, err)
			}
			cancel()
		}
	}}
	if _, err := restore.RunQuorumRestore(cctx, deps, opts, cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if g, err := lifecycle.ReadQuorumGuard(ctx, c.Operator); err != nil || g.Disabled() {
		t.Fatalf("after the cancel the guard is %v (%v), want on", g, err)
	}

	// Resumed: it finishes.
	state, err := restore.RunQuorumRestore(ctx, deps, opts, logged)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if state.Quorum == nil || state.Quorum.Bump == 0 || state.QuorumGuard == nil || !state.QuorumGuard.Restored {
		t.Errorf("state %+v %+v", state.Quorum, state.QuorumGuard)
	}
	if g, err := lifecycle.ReadQuorumGuard(ctx, c.Operator); err != nil || g.Disabled() {
		t.Errorf("after the restore the guard is %v (%v), want on", g, err)
	}

	// Every acknowledged write is there; the cluster takes writes.
	checkQuorumWrites(t, c)
	if _, err := c.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-restore"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("write after the restore: %v", err)
	}
}

const quorumKeys = 50

// startQuorumDrill starts a 4.20.3 cluster, writes quorumKeys etcd keys
// and a namespace with a ConfigMap "before-loss" (each write
// acknowledged, the last one held by the survivor), then kills etcd on
// the two other masters (their data left as it is).
func startQuorumDrill(t *testing.T) (c *clustertest.Cluster, recovery string, others []string) {
	t.Helper()
	if _, err := clustertest.FindBinaries(); err != nil {
		t.Skipf("etcd and kube-apiserver binaries missing (run hack/tools.sh): %v", err)
	}
	t.Parallel()
	ctx := t.Context()
	c = clustertest.Start(t, clustertest.Options{Interval: 100 * time.Millisecond, Release: etcdOnlyRelease})
	masters := c.Masters()
	recovery, others = masters[0], masters[1:]

	// Writes, each acknowledged: etcd keys and API objects.
	etcd, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range quorumKeys {
		if _, err := etcd.Put(ctx, fmt.Sprintf("/lifeboat-quorum/k%03d", i), fmt.Sprintf("v%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	const ns = "lifeboat-quorum"
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before-loss"}, Data: map[string]string{"x": "1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	last := fmt.Sprintf("/lifeboat-quorum/k%03d", quorumKeys-1)
	// The survivor holds the last write (a serializable read of its own
	// state): quorum restore keeps what the recovery host has, no more.
	surv := memberClient(t, c, recovery)
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := surv.Get(ctx, last, clientv3.WithSerializable())
		if err == nil && len(r.Kvs) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the survivor never held %s: %v", last, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Quorum loss: two masters' etcd killed.
	for _, n := range others {
		fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := c.KillEtcd(fctx, n)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}

	return c, recovery, others
}

// checkQuorumWrites checks every acknowledged write of startQuorumDrill,
// and that the cluster takes writes.
func checkQuorumWrites(t *testing.T, c *clustertest.Cluster) {
	t.Helper()
	ctx := t.Context()
	etcd, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := etcd.Get(ctx, "/lifeboat-quorum/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || got.Count != quorumKeys {
		t.Errorf("keys after the restore: %v %v, want %d", got, err, quorumKeys)
	}
	if _, err := c.Kube.CoreV1().ConfigMaps("lifeboat-quorum").Get(ctx, "before-loss", metav1.GetOptions{}); err != nil {
		t.Errorf("object written before the loss: %v", err)
	}
	if _, err := etcd.Put(ctx, "/lifeboat-quorum-after/k", "v"); err != nil {
		t.Errorf("etcd write after the restore: %v", err)
	}
	members, err := etcd.MemberList(ctx)
	if err != nil || len(members.Members) != 3 {
		t.Errorf("members after the restore: %v %v", members, err)
	}
	for _, m := range members.Members {
		if m.IsLearner {
			t.Errorf("member %s is still a learner", m.Name)
		}
	}
}

// TestCrashQuorumRestoreGuardOff: the quorum restore is killed (SIGKILL)
// while it waits for a stable cluster with the quorum guard off; the
// resumed run finishes, the guard is back on, every acknowledged write is
// there.
func TestCrashQuorumRestoreGuardOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole simulated cluster")
	}
	c, recovery, others := startQuorumDrill(t)
	params := crashParams{Recovery: recovery, Others: others, Quorum: true, StablePeriod: 5 * time.Second}
	spec := crashtest.Spec{
		Kubeconfig: c.KubeconfigPath,
		RuntimeURL: crashtest.ServeRuntime(t, func(n string) host.Host {
			if h := c.Host(n); h != nil {
				return h
			}
			return nil
		}),
		StateHost: recovery,
		StatePath: restore.DefaultQuorumStatePath,
		KillStep:  "wait-stable",
		KillAt:    crashtest.PointFirst,
	}
	for _, n := range append([]string{recovery}, others...) {
		spec.Hosts = append(spec.Hosts, crashtest.HostSpec{Name: n, Root: c.Host(n).Root()})
	}
	var err error
	if spec.Params, err = json.Marshal(params); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := crashtest.Run(t, spec, dir, "killed", 15*time.Minute)
	if first.Err != nil || !first.Killed || !first.InStep {
		t.Fatalf("first run not killed in wait-stable: %v; log:\n%s", first.Err, crashtest.Tail(first.Log, 60))
	}
	if g, err := lifecycle.ReadQuorumGuard(t.Context(), c.Operator); err != nil || !g.Disabled() {
		t.Fatalf("after the kill the guard is %s (%v), want off", g, err)
	}
	st, err := restore.NewState(c.Host(recovery), restore.DefaultQuorumStatePath).Get(t.Context())
	if err != nil || st.QuorumGuard == nil || st.QuorumGuard.Restored || st.Quorum == nil {
		t.Fatalf("state after the kill: guard %+v, quorum %+v, %v", st.QuorumGuard, st.Quorum, err)
	}

	spec.KillStep, spec.KillAt = "", ""
	second := crashtest.Run(t, spec, dir, "resumed", 15*time.Minute)
	if second.Err != nil {
		t.Fatalf("resumed run: %v\n%s", second.Err, crashtest.Tail(second.Log, 60))
	}
	if n := resumedSkips(t, second.Log); n == 0 {
		t.Error("the resumed run skipped no finished step")
	}
	if g, err := lifecycle.ReadQuorumGuard(t.Context(), c.Operator); err != nil || g.Disabled() {
		t.Errorf("after the resumed run the guard is %s (%v), want on", g, err)
	}
	checkQuorumWrites(t, c)
}
