package clustertest

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node lifecycle as the kube-controller-manager's node lifecycle controller
// shows it: a node whose kubelet stops posting status (its machine is powered
// off, or its kubelet's client certificate has expired) gets its Ready
// condition set to Unknown with reason NodeStatusUnknown and the
// node.kubernetes.io/unreachable taint with effects NoSchedule and NoExecute.
// When the kubelet posts again the condition is Ready=True (KubeletReady) and
// the taints are removed.

const (
	taintUnreachable = "node.kubernetes.io/unreachable"

	nodeReadyReason    = "KubeletReady"
	nodeReadyMessage   = "kubelet is posting ready status"
	nodeUnknownReason  = "NodeStatusUnknown"
	nodeUnknownMessage = "Kubelet stopped posting node status."
)

// kubeletPosting reports whether node's kubelet is able to post its status:
// its host is powered on and its client certificate has not expired.
func (c *Cluster) kubeletPosting(node string) (posting bool, known bool) {
	h := c.Host(node)
	if h == nil {
		return false, false
	}
	if !h.Powered() {
		return false, true
	}
	return !c.nodeCertExpired(node), true
}

// syncNodes is one pass of the node lifecycle controller.
func (c *Cluster) syncNodes(ctx context.Context) error {
	nodes, err := c.ctlKube().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	var firstErr error
	for i := range nodes.Items {
		n := &nodes.Items[i]
		posting, known := c.kubeletPosting(n.Name)
		if !known {
			continue
		}
		want := n.DeepCopy()
		setNodeReadiness(want, posting, metav1.Now())
		if nodeStatusEqual(n, want) && taintsEqual(n.Spec.Taints, want.Spec.Taints) {
			continue
		}
		if !taintsEqual(n.Spec.Taints, want.Spec.Taints) {
			updated, err := c.ctlKube().CoreV1().Nodes().Update(ctx, want, metav1.UpdateOptions{})
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("updating node %s taints: %w", n.Name, err)
				}
				continue
			}
			updated.Status = want.Status
			want = updated
		}
		if !nodeStatusEqual(n, want) {
			if _, err := c.ctlKube().CoreV1().Nodes().UpdateStatus(ctx, want, metav1.UpdateOptions{}); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("updating node %s status: %w", n.Name, err)
			}
		}
	}
	return firstErr
}

// setNodeReadiness sets n's Ready condition and unreachable taints for a
// kubelet that is (posting) or is not posting its status.
func setNodeReadiness(n *corev1.Node, posting bool, now metav1.Time) {
	status, reason, message := corev1.ConditionTrue, nodeReadyReason, nodeReadyMessage
	if !posting {
		status, reason, message = corev1.ConditionUnknown, nodeUnknownReason, nodeUnknownMessage
	}
	found := false
	for i := range n.Status.Conditions {
		cond := &n.Status.Conditions[i]
		if cond.Type != corev1.NodeReady {
			continue
		}
		found = true
		if cond.Status != status {
			cond.LastTransitionTime = now
			cond.LastHeartbeatTime = now
		}
		cond.Status, cond.Reason, cond.Message = status, reason, message
	}
	if !found {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{
			Type: corev1.NodeReady, Status: status, Reason: reason, Message: message,
			LastHeartbeatTime: now, LastTransitionTime: now,
		})
	}

	var taints []corev1.Taint
	for _, t := range n.Spec.Taints {
		if t.Key != taintUnreachable {
			taints = append(taints, t)
		}
	}
	if !posting {
		taints = append(taints,
			corev1.Taint{Key: taintUnreachable, Effect: corev1.TaintEffectNoSchedule},
			corev1.Taint{Key: taintUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &now},
		)
		// Keep the time the NoExecute taint was first added.
		for _, t := range n.Spec.Taints {
			if t.Key == taintUnreachable && t.Effect == corev1.TaintEffectNoExecute && t.TimeAdded != nil {
				taints[len(taints)-1].TimeAdded = t.TimeAdded
			}
		}
	}
	n.Spec.Taints = taints
}

func nodeStatusEqual(a, b *corev1.Node) bool {
	ca, cb := nodeReadyCondition(a), nodeReadyCondition(b)
	if ca == nil || cb == nil {
		return ca == cb
	}
	return ca.Status == cb.Status && ca.Reason == cb.Reason && ca.Message == cb.Message
}

func nodeReadyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func taintsEqual(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Effect != b[i].Effect || a[i].Value != b[i].Value {
			return false
		}
	}
	return true
}
