// Package controlplane finds the control-plane nodes the way the cluster
// labels them, for every lifeboat package that picks masters (lifecycle,
// member, restore).
package controlplane

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/internal/names"
)

// The two labels of a control-plane node. OpenShift 4.5 labels masters
// node-role.kubernetes.io/master only; Kubernetes 1.20 added
// node-role.kubernetes.io/control-plane, and 4.14+ nodes carry both. A
// node with either one is a master.
const (
	MasterLabel       = names.MasterLabel
	ControlPlaneLabel = names.ControlPlaneLabel
)

// IsNode reports whether n carries either control-plane label.
func IsNode(n *corev1.Node) bool {
	_, master := n.Labels[MasterLabel]
	_, controlPlane := n.Labels[ControlPlaneLabel]
	return master || controlPlane
}

// Nodes lists the nodes labelled MasterLabel or ControlPlaneLabel (one
// list per label, each node once), sorted by name. The error wraps the
// API's, naming the label whose list failed.
func Nodes(ctx context.Context, kube kubernetes.Interface) ([]corev1.Node, error) {
	seen := map[string]bool{}
	var nodes []corev1.Node
	for _, label := range []string{MasterLabel, ControlPlaneLabel} {
		list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: label})
		if err != nil {
			return nil, fmt.Errorf("listing the nodes labelled %s: %w", label, err)
		}
		for _, n := range list.Items {
			if !seen[n.Name] {
				seen[n.Name] = true
				nodes = append(nodes, n)
			}
		}
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes, nil
}
