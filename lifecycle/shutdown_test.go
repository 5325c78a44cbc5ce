package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// shutdown records a host's Shutdown in the fleet, after holding it for
// f.hold, and fails it with f.fail[name].
func (f *fakeFleet) shutdown(ctx context.Context, h host.Host, delay time.Duration) error {
	f.mu.Lock()
	f.running++
	if f.running > f.maxRunning {
		f.maxRunning = f.running
	}
	f.mu.Unlock()
	time.Sleep(f.hold)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running--
	if err := f.fail[h.Name()]; err != nil {
		return err
	}
	f.shutdowns = append(f.shutdowns, fmt.Sprintf("%s/%s", h.Name(), delay))
	return nil
}

type fakeFleet struct {
	mu         sync.Mutex
	fail       map[string]error
	hold       time.Duration
	running    int
	maxRunning int
	shutdowns  []string
	unknown    map[string]bool
}

func (f *fakeFleet) hosts(node string) (host.Host, error) {
	if f.unknown[node] {
		return nil, fmt.Errorf("no SSH address for %s", node)
	}
	// A host that only shuts down: any other operation fails the test
	// with hosttest.ErrUnimplemented.
	return hosttest.Wrap(hosttest.Unimplemented(node), hosttest.Funcs{Shutdown: f.shutdown}), nil
}

func testNode(name string, master, ready, unschedulable bool) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	if master {
		n.Labels[names.MasterLabel] = ""
	} else {
		n.Labels["node-role.kubernetes.io/worker"] = ""
	}
	n.Spec.Unschedulable = unschedulable
	status := corev1.ConditionUnknown
	if ready {
		status = corev1.ConditionTrue
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "NodeStatusUnknown"}}
	if !ready {
		// The node controller's verdict on a kubelet that stopped
		// posting status.
		n.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute}}
	}
	return n
}

func clusterNodes() []runtime.Object {
	return []runtime.Object{
		testNode("master-1", true, true, false),
		testNode("master-0", true, true, true), // drained for custom workloads
		testNode("master-2", true, true, false),
		testNode("worker-1", false, true, false),
		testNode("worker-0", false, true, false),
	}
}

func TestShutdown(t *testing.T) {
	emptyDir := t.TempDir()
	tests := []struct {
		name       string
		opts       ShutdownOptions
		dry        bool
		fleet      *fakeFleet
		wantErr    []error
		wantStatus map[string]NodeShutdownStatus
		wantCalls  []string // sorted order is not guaranteed; compared as a set
	}{
		{
			name:    "refused without backup or override",
			opts:    ShutdownOptions{},
			wantErr: []error{ErrNoRecentBackup},
		},
		{
			name:    "refused when the backup does not verify",
			opts:    ShutdownOptions{BackupDir: emptyDir},
			wantErr: []error{ErrNoRecentBackup, backup.ErrMissingFile},
		},
		{
			name: "dry run touches no host",
			opts: ShutdownOptions{Override: "test"}, dry: true,
			wantStatus: map[string]NodeShutdownStatus{"master-0": ShutdownWouldSchedule, "master-1": ShutdownWouldSchedule,
				"master-2": ShutdownWouldSchedule, "worker-0": ShutdownWouldSchedule, "worker-1": ShutdownWouldSchedule},
		},
		{
			name: "override shuts every node down in one minute",
			opts: ShutdownOptions{Override: "maintenance window, backup in vault"},
			wantStatus: map[string]NodeShutdownStatus{"master-0": ShutdownScheduled, "master-1": ShutdownScheduled,
				"master-2": ShutdownScheduled, "worker-0": ShutdownScheduled, "worker-1": ShutdownScheduled},
			wantCalls: []string{"master-0/1m0s", "master-1/1m0s", "master-2/1m0s", "worker-0/1m0s", "worker-1/1m0s"},
		},
		{
			name: "negative delay shuts down at once",
			opts: ShutdownOptions{Override: "x", Delay: -1},
			wantStatus: map[string]NodeShutdownStatus{"master-0": ShutdownScheduled, "master-1": ShutdownScheduled,
				"master-2": ShutdownScheduled, "worker-0": ShutdownScheduled, "worker-1": ShutdownScheduled},
			wantCalls: []string{"master-0/0s", "master-1/0s", "master-2/0s", "worker-0/0s", "worker-1/0s"},
		},
		{
			name:    "a failing host and an unknown host are reported, the rest shut down",
			opts:    ShutdownOptions{Override: "x"},
			fleet:   &fakeFleet{fail: map[string]error{"master-2": errors.New("ssh: connection refused")}, unknown: map[string]bool{"worker-1": true}},
			wantErr: []error{ErrShutdownIncomplete},
			wantStatus: map[string]NodeShutdownStatus{"master-0": ShutdownScheduled, "master-1": ShutdownScheduled,
				"master-2": ShutdownFailed, "worker-0": ShutdownScheduled, "worker-1": ShutdownFailed},
			wantCalls: []string{"master-0/1m0s", "master-1/1m0s", "worker-0/1m0s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fleet := tc.fleet
			if fleet == nil {
				fleet = &fakeFleet{}
			}
			kube := fake.NewClientset(clusterNodes()...)
			var reported []string
			res, err := runShutdown(context.Background(), kube, fleet.hosts, tc.opts, tc.dry, func(e plan.Event) {
				if strings.HasPrefix(e.Step.ID, "shutdown/") && (e.Status == plan.Done || e.Status == plan.Failed || e.Status == plan.WouldRun) {
					reported = append(reported, e.Step.ID)
				}
			})
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want errors.Is %v", err, want)
				}
			}
			if len(tc.wantErr) == 0 && err != nil {
				t.Fatalf("err = %v", err)
			}
			if res == nil {
				t.Fatal("nil result")
			}
			if len(tc.wantStatus) > 0 && res.Reminder != SchedulableReminder {
				t.Errorf("Reminder = %q", res.Reminder)
			}
			got := map[string]NodeShutdownStatus{}
			for _, n := range res.Nodes {
				got[n.Node] = n.Status
				if (n.Status == ShutdownFailed) != (n.Err != nil) {
					t.Errorf("%s: status %s err %v", n.Node, n.Status, n.Err)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.wantStatus) && !(len(got) == 0 && len(tc.wantStatus) == 0) {
				t.Errorf("statuses %v, want %v", got, tc.wantStatus)
			}
			if len(tc.wantStatus) > 0 {
				// workers first, then masters
				var order []string
				for _, n := range res.Nodes {
					order = append(order, n.Node)
				}
				if strings.Join(order, ",") != "worker-0,worker-1,master-0,master-1,master-2" {
					t.Errorf("order %v", order)
				}
				if strings.Join(res.UnschedulableMasters, ",") != "master-0" {
					t.Errorf("UnschedulableMasters = %v", res.UnschedulableMasters)
				}
				if len(reported) != len(tc.wantStatus) {
					t.Errorf("reported %v", reported)
				}
			}
			calls := append([]string(nil), fleet.shutdowns...)
			sort.Strings(calls)
			if strings.Join(calls, ",") != strings.Join(tc.wantCalls, ",") {
				t.Errorf("host shutdowns %v, want %v", calls, tc.wantCalls)
			}
		})
	}
}

func TestShutdownBoundedParallelism(t *testing.T) {
	var objs []runtime.Object
	for i := range 12 {
		objs = append(objs, testNode(fmt.Sprintf("worker-%02d", i), false, true, false))
	}
	fleet := &fakeFleet{hold: 20 * time.Millisecond}
	res, err := runShutdown(context.Background(), fake.NewClientset(objs...), fleet.hosts, ShutdownOptions{Override: "x", MaxParallel: 3}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(fleet.shutdowns) != 12 || len(res.Nodes) != 12 {
		t.Fatalf("%d shutdowns, %d results", len(fleet.shutdowns), len(res.Nodes))
	}
	if fleet.maxRunning > 3 || fleet.maxRunning < 2 {
		t.Errorf("at most %d shutdowns ran at once, want 2..3", fleet.maxRunning)
	}
}

func TestShutdownCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fleet := &fakeFleet{}
	_, err := runShutdown(ctx, fake.NewClientset(clusterNodes()...), fleet.hosts, ShutdownOptions{Override: "x"}, false, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(fleet.shutdowns) != 0 {
		t.Errorf("shut down %v after cancel", fleet.shutdowns)
	}
}

// runShutdown builds and runs ShutdownPlan as a caller does and returns
// the result the run filled.
func runShutdown(ctx context.Context, kube kubernetes.Interface, hosts HostFunc, opts ShutdownOptions, dry bool, report func(plan.Event)) (*ShutdownResult, error) {
	res := &ShutdownResult{}
	opts.Result = res
	p, err := ShutdownPlan(Deps{Kube: kube, Hosts: hosts}, opts)
	if err != nil {
		return res, err
	}
	return res, p.Run(ctx, plan.RunOptions{DryRun: dry, Report: report})
}

// TestShutdownPlanBuildsWithoutIO: the plan is built and described with
// a client whose every call fails, and touches nothing; run, it stops at
// the backup check when there is no backup.
func TestShutdownPlanBuildsWithoutIO(t *testing.T) {
	dead := fake.NewClientset()
	dead.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		t.Errorf("building the plan called the API: %s %s", a.GetVerb(), a.GetResource().Resource)
		return true, nil, errors.New("no API")
	})
	fleet := &fakeFleet{}
	p, err := ShutdownPlan(Deps{Kube: dead, Hosts: fleet.hosts}, ShutdownOptions{Override: "drill", Cordon: true, DrainWorkers: true})
	if err != nil {
		t.Fatal(err)
	}
	desc := p.Describe()
	for _, want := range []string{"check-backup", "overridden (drill)", "list-nodes", "cordon", "drain", "shutdown -h 1", "reminder/schedulable-masters"} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe lacks %q:\n%s", want, desc)
		}
	}

	fleet = &fakeFleet{}
	p, err = ShutdownPlan(Deps{Kube: fake.NewClientset(clusterNodes()...), Hosts: fleet.hosts}, ShutdownOptions{BackupDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(context.Background(), plan.RunOptions{})
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "check-backup" || !errors.Is(err, ErrNoRecentBackup) {
		t.Fatalf("err = %v", err)
	}
	if len(fleet.shutdowns) != 0 {
		t.Fatal("hosts shut down without a backup")
	}
}

// TestShutdownPlanValidate: options and deps are checked before the plan
// exists, so nothing can run.
func TestShutdownPlanValidate(t *testing.T) {
	fleet := &fakeFleet{}
	kube := fake.NewClientset(clusterNodes()...)
	tests := []struct {
		name    string
		deps    Deps
		opts    ShutdownOptions
		wantErr []error
	}{
		{"neither backup nor override", Deps{Kube: kube, Hosts: fleet.hosts}, ShutdownOptions{}, []error{lifeboat.ErrInvalidOptions, ErrNoRecentBackup}},
		{"no kube client", Deps{Hosts: fleet.hosts}, ShutdownOptions{Override: "x"}, []error{lifeboat.ErrInvalidOptions}},
		{"no hosts", Deps{Kube: kube}, ShutdownOptions{Override: "x"}, []error{lifeboat.ErrInvalidOptions}},
		{"negative parallelism", Deps{Kube: kube, Hosts: fleet.hosts}, ShutdownOptions{Override: "x", MaxParallel: -1}, []error{lifeboat.ErrInvalidOptions}},
		{"negative planned duration", Deps{Kube: kube, Hosts: fleet.hosts}, ShutdownOptions{Override: "x", PlannedDuration: -time.Hour}, []error{lifeboat.ErrInvalidOptions}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ShutdownPlan(tc.deps, tc.opts)
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want errors.Is %v", err, want)
				}
			}
			if p != nil {
				t.Error("a plan was built from invalid options")
			}
		})
	}
	if len(fleet.shutdowns) != 0 {
		t.Errorf("shutdowns %v", fleet.shutdowns)
	}
}

// TestShutdownDryRunFillsResult: a dry run lists what it would do per
// node, on the result and as events, and touches neither nodes nor hosts.
func TestShutdownDryRunFillsResult(t *testing.T) {
	kube := fake.NewClientset(clusterNodes()...)
	var patches int
	kube.PrependReactor("patch", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) { patches++; return false, nil, nil })
	fleet := &fakeFleet{}
	var would []string
	res, err := runShutdown(context.Background(), kube, fleet.hosts, ShutdownOptions{Override: "x", DrainWorkers: true}, true, func(e plan.Event) {
		if e.Status == plan.WouldRun {
			would = append(would, e.Step.ID)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(would)
	if got := strings.Join(would, ","); got != "cordon,drain/worker-0,drain/worker-1,shutdown/master-0,shutdown/master-1,shutdown/master-2,shutdown/worker-0,shutdown/worker-1" {
		t.Errorf("would run %s", got)
	}
	if got := strings.Join(res.Cordoned(), ","); got != "master-1,master-2,worker-0,worker-1" || !res.DryRun {
		t.Errorf("Cordoned() = %s, DryRun %v", got, res.DryRun)
	}
	if patches != 0 || len(fleet.shutdowns) != 0 {
		t.Errorf("%d node patches, shutdowns %v in a dry run", patches, fleet.shutdowns)
	}
}

func TestIsMaster(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"master label", map[string]string{names.MasterLabel: ""}, true},
		{"control-plane label", map[string]string{names.ControlPlaneLabel: ""}, true},
		{"worker", map[string]string{"node-role.kubernetes.io/worker": ""}, false},
		{"no labels", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isMaster(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels}}); got != tc.want {
				t.Errorf("isMaster = %v, want %v", got, tc.want)
			}
		})
	}
}
