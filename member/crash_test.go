package member

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/internal/crashtest"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// The crash drill of chapter 2: ReplacePlan runs in a child process that
// kills itself with SIGKILL inside one step; a second child runs the plan
// again (it resumes from its run state, the ConfigMap
// defaultStateConfigMap in openshift-etcd: finished steps are skipped, the
// others must recognise what the first run did) and the parent checks the runbook's verification. Both
// procedures are covered: 2.4.1 (machine stopped, Machine re-created) and
// 2.4.2 (etcd pod crashlooping). Steps: internal/crashtest.Select; each
// case starts its own simulated cluster.

// memberCrashParams are the replacement options a child gets.
type memberCrashParams struct {
	Node      string `json:"node"`
	State     State  `json:"state"`
	BackupDir string `json:"backupDir,omitempty"`
	SaveDir   string `json:"saveDir,omitempty"`
}

// memberProcedures maps a matrix prefix to the state that chooses it.
var memberProcedures = []struct {
	prefix string
	state  State
}{{"2.4.1", MachineNotRunning}, {"2.4.2", EtcdPodCrashlooping}}

// memberCrashSteps lists "<procedure>/<step>" for every step of both
// replacement plans, from the plans themselves.
func memberCrashSteps(t *testing.T) []string {
	t.Helper()
	deps := Deps{Etcd: etcdtest.NewCluster("m0", "m1", "m2"), Kube: kubefake.NewClientset(), Operator: operatorfake.NewClientset(), Machine: machinefake.NewClientset()}
	var out []string
	for _, pr := range memberProcedures {
		p, err := ReplacePlan(deps, ReplaceOptions{Node: "m0", State: pr.state, SkipBackupCheck: true, Host: hosttest.NewDir("m0", t.TempDir(), hosttest.DirOptions{})})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Steps {
			out = append(out, pr.prefix+"/"+s.ID)
		}
	}
	return out
}

// lastOf is the last "<prefix>/<step>" of steps with that prefix.
func lastOf(steps []string, prefix string) string {
	last := ""
	for _, s := range steps {
		if strings.HasPrefix(s, prefix+"/") {
			last = s
		}
	}
	return last
}

// TestCrashHelper is the child: it runs the replacement plan of its spec.
func TestCrashHelper(t *testing.T) {
	c := crashtest.OpenChild(t)
	var p memberCrashParams
	c.Params(t, &p)
	cli := c.Etcd(t)
	defer cli.Close()
	deps := Deps{Etcd: cli, Operator: c.Operator, Kube: c.Kube, Machine: c.Machine, Config: c.Config}
	opts := ReplaceOptions{Node: p.Node, State: p.State, Interval: 200 * time.Millisecond, HealthTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if p.State == EtcdPodCrashlooping {
		opts.SkipBackupCheck, opts.Host = true, c.Host(t, p.Node)
		opts.Stop = StopOptions{Interval: 100 * time.Millisecond}
	} else {
		opts.BackupDir, opts.Machine = p.BackupDir, RecreateOptions{SaveDir: p.SaveDir}
	}
	pl, err := ReplacePlan(deps, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := pl.Run(t.Context(), plan.RunOptions{Report: c.Report}); err != nil {
		t.Fatalf("replacement: %v", err)
	}
}

func TestCrashReplaceEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("each case starts a whole simulated cluster")
	}
	if _, err := clustertest.FindBinaries(); err != nil {
		t.Skipf("etcd and kube-apiserver binaries missing (run hack/tools.sh): %v", err)
	}
	for _, cs := range crashtest.Select(t, memberCrashSteps(t)) {
		t.Run(cs.Name(), func(t *testing.T) {
			crashReplaceCase(t, cs, "")
		})
	}
}

// TestCrashReplaceWithGuardOff: on a 4.14 cluster the replacement turns the
// etcd quorum guard off; killed while it is off (in wait-revision), the
// resumed run finishes and the guard is back on, as it was before.
func TestCrashReplaceWithGuardOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole simulated cluster")
	}
	if _, err := clustertest.FindBinaries(); err != nil {
		t.Skipf("etcd and kube-apiserver binaries missing (run hack/tools.sh): %v", err)
	}
	crashReplaceCase(t, crashtest.Case{Step: "2.4.1/wait-revision", Point: "first"}, "4.14.8")
}

func crashReplaceCase(t *testing.T, cs crashtest.Case, rel string) {
	t.Parallel() // each case on its own cluster, two at a time
	start := time.Now()
	prefix, step, _ := strings.Cut(cs.Step, "/")
	row := crashtest.Row{Plan: "member " + prefix, Step: step, At: cs.Point}
	defer func() {
		row.Elapsed = time.Since(start)
		if t.Failed() && row.Note == "" {
			row.Note = "see the test log"
		}
		crashtest.Record(t, row)
	}()
	c, cli, deps := simClusterOf(t, clustertest.Options{Release: rel})
	ctx := t.Context()
	putKeys(t, ctx, cli, 50)
	params := memberCrashParams{}
	var oldMachine string
	switch prefix {
	case "2.4.1":
		params.Node = c.Masters()[0]
		oldMachine = c.MachineName(params.Node)
		params.BackupDir, params.SaveDir = t.TempDir(), t.TempDir()
		take, err := backup.TakePlan(backup.TakeDeps{Etcd: cli, Host: c.Host(c.Masters()[1]), Config: c.Config},
			backup.TakeOptions{Dir: params.BackupDir, MinClusterAge: -1, Logger: quiet})
		if err == nil {
			err = take.Run(ctx, plan.RunOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.StopMachine(ctx, params.Node); err != nil {
			t.Fatal(err)
		}
		params.State = waitForState(t, ctx, deps, params.Node, MachineNotRunning).State
	default:
		params.Node = c.Masters()[1]
		if err := c.CrashloopEtcd(ctx, params.Node); err != nil {
			t.Fatal(err)
		}
		params.State = waitForState(t, ctx, deps, params.Node, EtcdPodCrashlooping).State
	}
	tls := c.EtcdTLS()
	spec := crashtest.Spec{
		Kubeconfig: c.KubeconfigPath,
		RuntimeURL: crashtest.ServeRuntime(t, func(n string) host.Host {
			if h := c.Host(n); h != nil {
				return h
			}
			return nil
		}),
		Etcd:     crashtest.EtcdSpec{Endpoints: c.EtcdEndpoints(), CAFile: tls.CAFile, CertFile: tls.CertFile, KeyFile: tls.KeyFile},
		Hosts:    []crashtest.HostSpec{{Name: params.Node, Root: c.Host(params.Node).Root()}},
		KillStep: step,
		KillAt:   cs.Point,
	}
	var err error
	if spec.Params, err = json.Marshal(params); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first := crashtest.Run(t, spec, dir, "killed", 15*time.Minute)
	row.Point = first.Point
	row.KilledInStep = first.Killed && first.InStep
	t.Logf("first child: killed %v in step %v at %q after %s", first.Killed, first.InStep, first.Point, first.Elapsed.Round(time.Second))
	if first.Err != nil || !row.KilledInStep {
		row.Note = fmt.Sprintf("first run not killed in the step: %v", first.Err)
		t.Fatalf("%s; log:\n%s", row.Note, crashtest.Tail(first.Log, 60))
	}
	spec.KillStep, spec.KillAt = "", ""
	second := crashtest.Run(t, spec, dir, "resumed", 15*time.Minute)
	t.Logf("second child: %s, err %v", second.Elapsed.Round(time.Second), second.Err)
	if second.Err != nil {
		row.Note = "resume failed: " + failureLine(second.Log)
		t.Fatalf("resumed run: %v", second.Err)
	}
	row.Resumed = true
	if cs.Point == crashtest.PointLast && lastOf(memberCrashSteps(t), prefix) == cs.Step {
		// Nothing was left to do: the second run must say so, not redo it.
		if b, err := os.ReadFile(second.Log); err != nil || !strings.Contains(string(b), "this replacement already finished") {
			t.Errorf("the resumed run did not report the finished replacement done (%v); log:\n%s", err, crashtest.Tail(second.Log, 60))
		}
	}

	// The runbook's verification, and what each procedure leaves behind.
	gone := ""
	if prefix == "2.4.1" {
		gone = params.Node
	}
	v, err := Verify(ctx, deps, VerifyOptions{Gone: gone, HealthTimeout: 2 * time.Second})
	if err != nil || !v.OK() {
		t.Errorf("verification: %v %q", err, v.Problems)
	}
	if g, err := lifecycle.ReadQuorumGuard(ctx, c.Operator); err != nil || g.Set {
		t.Errorf("quorum guard after the resumed run: %v, %v; want no override (as before)", g, err)
	}
	if prefix == "2.4.1" {
		if _, err := c.Machine.MachineV1beta1().Machines(machineNamespace).Get(ctx, oldMachine, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("old machine %s: %v", oldMachine, err)
		}
		ms, err := c.Machine.MachineV1beta1().Machines(machineNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		replacements := 0
		for _, m := range ms.Items {
			if m.Annotations[annotationReplacesNode] == params.Node {
				replacements++
			}
		}
		if replacements != 1 {
			t.Errorf("%d machines replace %s, want 1", replacements, params.Node)
		}
		for _, s := range SecretNames(params.Node) {
			if _, err := c.Kube.CoreV1().Secrets(etcdNamespace).Get(ctx, s, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("secret %s of the old member: %v", s, err)
			}
		}
	} else {
		h := c.Host(params.Node)
		for _, p := range []string{"/var/lib/etcd-backup/etcd-pod.yaml", "/tmp/etcd/member"} {
			if _, err := h.Stat(ctx, p); err != nil {
				t.Errorf("%s is not kept: %v", p, err)
			}
		}
	}
	// The run state was retired as finished: the next replacement starts
	// fresh.
	cms, err := c.Kube.CoreV1().ConfigMaps(etcdNamespace).List(ctx, metav1.ListOptions{LabelSelector: labelReplacementState})
	if err != nil {
		t.Fatal(err)
	}
	finished := 0
	for _, cm := range cms.Items {
		switch {
		case cm.Name == defaultStateConfigMap:
			t.Errorf("the run state %s was not retired", cm.Name)
		case strings.HasPrefix(cm.Name, defaultStateConfigMap+".finished-"):
			finished++
		}
	}
	// Killed at the last step's done event, the first run had already
	// retired its state as finished: the second recognises that finished
	// run (finishedRun) and reports it done, retiring nothing of its own.
	if finished != 1 {
		t.Errorf("%d finished run states, want 1", finished)
	}
	checkKeys(t, ctx, cli, 50)
	row.Verified = !t.Failed()
	if !row.Verified {
		row.Note = "end state not verified (see the test log)"
	}
}

// failureLine is the child's failure line.
func failureLine(log string) string {
	lines := strings.Split(crashtest.Tail(log, 200), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "replacement: ") || strings.Contains(lines[i], " failed: ") {
			return strings.TrimSpace(lines[i])
		}
	}
	return "see the child's log"
}
