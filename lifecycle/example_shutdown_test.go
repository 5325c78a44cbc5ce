package lifecycle_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// haltLog records "shutdown -h" per node instead of halting anything.
type haltLog struct {
	mu     sync.Mutex
	halted map[string]time.Duration
}

func (l *haltLog) shutdown(_ context.Context, h host.Host, delay time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.halted[h.Name()] = delay
	return nil
}

func exampleNode(name, role string, unschedulable bool) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"node-role.kubernetes.io/" + role: ""}},
		Spec:       corev1.NodeSpec{Unschedulable: unschedulable},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

// Runbook chapter 3 with an override instead of a backup directory (a real
// caller passes BackupDir, checked with backup.Verify). The hosts here are
// fakes (hosttest) that only record the shutdown; on a real
// cluster HostFunc returns host.NewSSH connections.
func ExampleShutdownPlan() {
	ctx := context.Background()
	kube := fake.NewClientset(
		exampleNode("master-0", "master", true), // drained for a custom workload
		exampleNode("master-1", "master", false),
		exampleNode("worker-0", "worker", false),
	)
	log := &haltLog{halted: map[string]time.Duration{}}
	hosts := func(name string) (host.Host, error) {
		return hosttest.Wrap(hosttest.Unimplemented(name), hosttest.Funcs{Shutdown: log.shutdown}), nil
	}

	res := &lifecycle.ShutdownResult{}
	p, err := lifecycle.ShutdownPlan(lifecycle.Deps{Kube: kube, Hosts: hosts},
		lifecycle.ShutdownOptions{Override: "backup stored off-site at 09:00", Result: res})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	if err := p.Run(ctx, plan.RunOptions{}); err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, n := range res.Nodes {
		fmt.Printf("%s, halts in %s\n", n, log.halted[n.Node])
	}
	fmt.Println("unschedulable masters:", res.UnschedulableMasters)
	// Output:
	// worker-0 (worker): ShutdownScheduled, halts in 1m0s
	// master-0 (master): ShutdownScheduled, halts in 1m0s
	// master-1 (master): ShutdownScheduled, halts in 1m0s
	// unschedulable masters: [master-0]
}

// Runbook chapter 4 after the machines were started: the restart plan
// waits for the nodes and the ClusterOperators (and would approve the
// valid pending CSRs of nodes that are not Ready).
func ExampleRestartPlan() {
	ctx := context.Background()
	kube := fake.NewClientset(exampleNode("master-0", "master", false), exampleNode("worker-0", "worker", false))
	config := configfake.NewClientset(&configv1.ClusterOperator{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd"},
		Status: configv1.ClusterOperatorStatus{Conditions: []configv1.ClusterOperatorStatusCondition{
			{Type: configv1.OperatorAvailable, Status: configv1.ConditionTrue},
			{Type: configv1.OperatorDegraded, Status: configv1.ConditionFalse},
		}},
	})
	res := &lifecycle.RestartResult{}
	p, err := lifecycle.RestartPlan(lifecycle.Deps{Kube: kube, Config: config},
		lifecycle.RestartOptions{Interval: 10 * time.Millisecond, Result: res})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	err = p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) {
		if e.Status == plan.Progress {
			fmt.Println(e.Message)
		}
	}})
	if err != nil {
		fmt.Println("error:", err) // errors.Is(err, lifecycle.ErrClusterDidNotRecover): restore (runbook 5.3)
		return
	}
	fmt.Println("not ready operators:", res.NotReadyOperators)
	// Output:
	// masters: all 1 Ready
	// workers: all 1 Ready
	// operators: all 1 Available and not Degraded
	// not ready operators: []
}
