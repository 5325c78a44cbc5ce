package member

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// State is the state of an unhealthy member (runbook 2.3). It decides the
// replacement procedure.
type State string

const (
	// MachineNotRunning: the member's Machine reports a
	// providerStatus.instanceState other than "running" (procedure 2.4.1).
	MachineNotRunning State = "MachineNotRunning"
	// NodeNotReady: the node has the node.kubernetes.io/unreachable taint or
	// is not Ready (procedure 2.4.1).
	NodeNotReady State = "NodeNotReady"
	// EtcdPodCrashlooping: the machine runs, the node is Ready, and pod
	// etcd-<node> is in Error or CrashLoopBackOff, or runs again for less
	// than StateOptions.CrashLoopWindow after exiting with an error
	// (procedure 2.4.2).
	EtcdPodCrashlooping State = "EtcdPodCrashlooping"
	// Healthy: the member answers its health check again. The runbook's
	// note in 2.3: it needs no replacement; the etcd cluster Operator syncs
	// it once the machine or node is healthy.
	Healthy State = "Healthy"
	// Unknown: the member is unhealthy but none of the runbook's checks
	// explains why; no procedure of chapter 2 applies as is.
	Unknown State = "Unknown"
)

// Procedure returns the runbook section that replaces a member in state s,
// or "" when none applies.
func (s State) Procedure() string {
	switch s {
	case MachineNotRunning, NodeNotReady:
		return "2.4.1"
	case EtcdPodCrashlooping:
		return "2.4.2"
	}
	return ""
}

// Default namespaces.
const (
	machineNamespace = names.MachineAPINamespace
	etcdNamespace    = names.EtcdNamespace
	// taintUnreachable is the taint the runbook greps for in 2.3 step 2.
	taintUnreachable = "node.kubernetes.io/unreachable"
)

// StateReport is the outcome of the runbook 2.3 checks for one node.
type StateReport struct {
	Node  string
	State State
	// Machine is the name of the node's Machine, "" if none was found.
	Machine string
	// InstanceState is the Machine's providerStatus.instanceState.
	InstanceState string
	// Evidence has one line per check, in the words of the runbook.
	Evidence []string
}

// StateOptions configures the runbook 2.3 checks FindUnhealthyMember makes
// (FindOptions.StateOptions). Zero values use the OpenShift
// namespaces.
type StateOptions struct {
	MachineNamespace string // "openshift-machine-api"
	EtcdNamespace    string // "openshift-etcd"
	// CrashLoopWindow: an etcd container that is running again after it
	// exited with an error counts as crashlooping until it has run this
	// long; 10 minutes (when the kubelet forgets a container's back-off)
	// when zero. FindUnhealthyMember refuses a negative one. A crashlooping pod shows Running
	// between its crashes; read at that instant it is still in the loop.
	CrashLoopWindow time.Duration
	// Now is the clock the window is measured with; time.Now when nil.
	Now func() time.Time
}

// crashLoopWindow is how long a restarted container must run before the
// kubelet resets its crash back-off (twice the 5-minute maximum back-off):
// until then a container that exited with an error is still in its crash
// loop, whatever it shows at the moment.
const crashLoopWindow = 10 * time.Minute

func (o StateOptions) withDefaults() StateOptions {
	if o.MachineNamespace == "" {
		o.MachineNamespace = machineNamespace
	}
	if o.EtcdNamespace == "" {
		o.EtcdNamespace = etcdNamespace
	}
	if o.CrashLoopWindow <= 0 {
		o.CrashLoopWindow = crashLoopWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// determineState runs the checks of runbook 2.3 for node, in its order:
// is the machine running, is the node ready, is the etcd pod crashlooping.
// machines may be nil (no Machine API): the machine check is then skipped
// and says so. It never returns Healthy: member health is the caller's
// (FindUnhealthyMember) to judge.
func determineState(ctx context.Context, kube kubernetes.Interface, machines machineclient.Interface, node string, opts StateOptions) (*StateReport, error) {
	opts = opts.withDefaults()
	r := &StateReport{Node: node, State: Unknown}
	add := func(format string, a ...any) { r.Evidence = append(r.Evidence, fmt.Sprintf(format, a...)) }

	// 1. Is the machine running?
	machineNotRunning := false
	if machines == nil {
		add("machine check skipped: no Machine API client")
	} else {
		m, err := machineForNode(ctx, machines, opts.MachineNamespace, node)
		switch {
		case apierrors.IsNotFound(err):
			add("machine check skipped: the Machine API is not installed (%v)", err)
		case err != nil:
			return nil, fmt.Errorf("member: listing machines in %s: %w", opts.MachineNamespace, err)
		case m == nil:
			add("no machine in %s has status.nodeRef.name %s", opts.MachineNamespace, node)
		default:
			r.Machine = m.Name
			r.InstanceState = instanceState(m)
			switch r.InstanceState {
			case "running":
				add("machine %s of node %s is running", m.Name, node)
			case "":
				add("machine %s of node %s reports no status.providerStatus.instanceState", m.Name, node)
			default:
				machineNotRunning = true
				add("machine %s of node %s has instanceState %s: the machine is not running", m.Name, node, r.InstanceState)
			}
		}
	}

	// 2. Is the node ready?
	nodeNotReady := false
	n, err := kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		nodeNotReady = true
		add("node %s does not exist: the node is not ready", node)
	case err != nil:
		return nil, fmt.Errorf("member: reading node %s: %w", node, err)
	default:
		for _, t := range n.Spec.Taints {
			if t.Key == taintUnreachable {
				nodeNotReady = true
				add("node %s is listed with an unreachable taint (%s:%s): the node is not ready", node, t.Key, t.Effect)
			}
		}
		ready := nodeReady(n)
		if ready == nil || ready.Status != corev1.ConditionTrue {
			nodeNotReady = true
			why := "no Ready condition"
			if ready != nil {
				why = fmt.Sprintf("Ready=%s", ready.Status)
				if ready.Reason != "" {
					why += " " + ready.Reason
				}
			}
			add("node %s is listed as NotReady (%s): the node is not ready", node, why)
		} else if !nodeNotReady {
			add("node %s is Ready", node)
		}
	}

	switch {
	case machineNotRunning:
		r.State = MachineNotRunning
		return r, nil
	case nodeNotReady:
		r.State = NodeNotReady
		return r, nil
	}

	// 3. Is the etcd pod crashlooping?
	podName := "etcd-" + node
	pod, err := kube.CoreV1().Pods(opts.EtcdNamespace).Get(ctx, podName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		add("pod %s/%s does not exist", opts.EtcdNamespace, podName)
	case err != nil:
		return nil, fmt.Errorf("member: reading pod %s/%s: %w", opts.EtcdNamespace, podName, err)
	default:
		status, crashing, restarts := podStatus(pod, opts.Now(), opts.CrashLoopWindow)
		if crashing {
			r.State = EtcdPodCrashlooping
			add("pod %s/%s status is %s (%d restarts): the etcd pod is crashlooping", opts.EtcdNamespace, podName, status, restarts)
		} else {
			add("pod %s/%s status is %s", opts.EtcdNamespace, podName, status)
		}
	}
	return r, nil
}

func machineForNode(ctx context.Context, machines machineclient.Interface, ns, node string) (*machinev1beta1.Machine, error) {
	list, err := machines.MachineV1beta1().Machines(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		m := &list.Items[i]
		if m.Status.NodeRef != nil && m.Status.NodeRef.Name == node {
			return m, nil
		}
	}
	return nil, nil
}

// instanceState reads status.providerStatus.instanceState, which every
// cloud provider's status carries as raw JSON.
func instanceState(m *machinev1beta1.Machine) string {
	if m.Status.ProviderStatus == nil || len(m.Status.ProviderStatus.Raw) == 0 {
		return ""
	}
	var ps struct {
		InstanceState *string `json:"instanceState"`
	}
	if json.Unmarshal(m.Status.ProviderStatus.Raw, &ps) != nil || ps.InstanceState == nil {
		return ""
	}
	return *ps.InstanceState
}

func nodeReady(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// podStatus returns the STATUS column of "oc get pods" for pod, whether
// the pod is crashlooping, and the total restart count. Crashlooping is
// Error or CrashLoopBackOff, or a container running for less than window
// (at now) since it last exited with an error: a crashlooping pod shows
// Running between its crashes.
func podStatus(pod *corev1.Pod, now time.Time, window time.Duration) (status string, crashlooping bool, restarts int32) {
	status = string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		status = pod.Status.Reason
	}
	if pod.Status.Phase == corev1.PodFailed {
		crashlooping = true
		if pod.Status.Reason == "" {
			status = "Error"
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		restarts += cs.RestartCount
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff":
			status, crashlooping = "CrashLoopBackOff", true
		case cs.State.Terminated != nil && (cs.State.Terminated.Reason == "Error" || cs.State.Terminated.ExitCode != 0):
			if !crashlooping || status != "CrashLoopBackOff" {
				status = "Error"
			}
			crashlooping = true
		case cs.State.Running != nil && failedExit(cs.LastTerminationState.Terminated):
			if up := now.Sub(cs.State.Running.StartedAt.Time); up < window {
				if !crashlooping {
					status = fmt.Sprintf("Running (container %s up %s after exit code %d)", cs.Name, up.Round(time.Second), cs.LastTerminationState.Terminated.ExitCode)
				}
				crashlooping = true
			}
		}
	}
	return status, crashlooping, restarts
}

// failedExit reports whether t is an exit with an error.
func failedExit(t *corev1.ContainerStateTerminated) bool {
	return t != nil && (t.ExitCode != 0 || t.Reason == "Error")
}
