package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/util/retry"
)

// Faults to inject into a running Cluster. Each works on the hosts and the
// API the way the failure shows on a real cluster, and the simulated
// controllers then report it the way the cluster's operators do (machine
// instanceState, Node readiness and taints, EtcdMembersAvailable, the etcd
// pod's phase). Deleting objects (Machines, secrets, members) is left to
// tests, with the clients.

// ErrNoHost is returned by the fault injectors for a node without a host.
var ErrNoHost = errors.New("clustertest: no such host")

func (c *Cluster) faultHost(node string) (*Host, error) {
	h := c.Host(node)
	if h == nil {
		return nil, fmt.Errorf("%w: %q", ErrNoHost, node)
	}
	return h, nil
}

// StopMachine powers node's machine off, as stopping the instance from the
// cloud console does: every process of the host (its etcd member, its
// kubelet) stops, the Machine's providerStatus.instanceState and
// machine.openshift.io/instance-state annotation become "stopped", and the
// Node turns NotReady with the node.kubernetes.io/unreachable taints.
// Stopping a stopped machine is a no-op.
//
// The instance state is written through the API at once when it answers
// within stopRecordTimeout; otherwise (the stop took the cluster's etcd
// quorum with it) the machine controller writes it once the API is back,
// as the real one does, and StopMachine still succeeds: the machine is
// off either way. It fails when ctx ends first.
func (c *Cluster) StopMachine(ctx context.Context, node string) error {
	h, err := c.faultHost(node)
	if err != nil {
		return err
	}
	if h.Powered() {
		if err := h.PowerOff(); err != nil {
			return fmt.Errorf("clustertest: stopping machine of %s: %w", node, err)
		}
	}
	defer c.kickControllers()
	rctx, cancel := context.WithTimeout(ctx, stopRecordTimeout)
	defer cancel()
	if err := c.recordInstanceState(rctx, node, instanceStopped); err != nil {
		if ctx.Err() != nil {
			return err
		}
		c.controllerLogger().Info("instance state not written yet; the machine controller writes it when the API answers", "node", node, "err", err)
	}
	return nil
}

// stopRecordTimeout bounds StopMachine's write of the instance state.
const stopRecordTimeout = 5 * time.Second

// StartMachine powers node's machine on again: its kubelet starts the
// static pods in its manifest directory (the etcd member rejoins with its
// data directory), the Machine shows "running", and the Node is Ready again
// unless its kubelet certificates were expired (ExpireNodeCertificates).
// Starting a running machine is a no-op.
func (c *Cluster) StartMachine(ctx context.Context, node string) error {
	h, err := c.faultHost(node)
	if err != nil {
		return err
	}
	if !h.Powered() {
		if err := h.PowerOn(); err != nil {
			return fmt.Errorf("clustertest: starting machine of %s: %w", node, err)
		}
	}
	defer c.kickControllers()
	return c.recordInstanceState(ctx, node, instanceRunning)
}

// recordInstanceState writes the instance state to node's Machine right away
// (the machine controller would on its next pass). A node without a Machine
// is fine: only the host changes.
func (c *Cluster) recordInstanceState(ctx context.Context, node, state string) error {
	// RetryOnConflict turns a context error of fn into nil (an
	// interrupted wait with no conflict): keep fn's last error.
	var last error
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		m, err := c.machineForNode(ctx, node)
		if err == nil {
			err = c.setInstanceState(ctx, m, state)
		}
		last = err
		return err
	})
	if err == nil {
		err = last
	}
	if errors.Is(err, errNoMachine) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clustertest: machine of %s: %w", node, err)
	}
	return nil
}

// CrashloopEtcd makes node's etcd member crash at start, again and again:
// the member is killed and the kubelet restarts it with a broken command
// line, so the process really exits each time and the pod etcd-<node> in
// openshift-etcd goes Error then CrashLoopBackOff. EtcdMembersAvailable
// reports the member unhealthy. The crash loop lasts until the kubelet is
// handed a new etcd-pod.yaml (the etcd operator installing a new revision on
// the node, after the runbook's 2.4.2 has removed the member, moved the
// manifest and data directory aside and forced a redeployment).
func (c *Cluster) CrashloopEtcd(ctx context.Context, node string) error {
	h, err := c.faultHost(node)
	if err != nil {
		return err
	}
	h.setCrashloop(true)
	c.kickControllers()
	return nil
}

// KillEtcd kills node's etcd member with SIGKILL. The member stays down (its
// pod shows Error) until the kubelet restarts (host.Host.RestartKubelet, a power
// cycle) or its etcd-pod.yaml changes; the data directory is kept, so it
// rejoins as the same member.
func (c *Cluster) KillEtcd(ctx context.Context, node string) error {
	h, err := c.faultHost(node)
	if err != nil {
		return err
	}
	if err := h.killEtcd(); err != nil {
		return fmt.Errorf("clustertest: killing etcd on %s: %w", node, err)
	}
	c.kickControllers()
	return nil
}

// LoseHost loses node's machine with its disk: the machine is stopped
// (instanceState "stopped", Node NotReady and unreachable) and the host's
// whole directory tree, its etcd data directory included, is deleted. This
// is the one place the simulator deletes data, standing for a lost disk; the
// etcd member stays in the member list until someone removes it. Recover
// with the runbook: a new Machine (chapter 2) or a restore (5.3).
func (c *Cluster) LoseHost(ctx context.Context, node string) error {
	h, err := c.faultHost(node)
	if err != nil {
		return err
	}
	if err := c.StopMachine(ctx, node); err != nil {
		return err
	}
	root := h.Root()
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("clustertest: losing host %s: %w", node, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(root + string(os.PathSeparator) + e.Name()); err != nil {
			return fmt.Errorf("clustertest: losing host %s: %w", node, err)
		}
	}
	return nil
}
