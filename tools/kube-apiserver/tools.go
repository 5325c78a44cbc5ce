//go:build tools

// Package tools pins the kube-apiserver that clustertest runs, and the
// kubelet of the real-node tier (clustertest/realnode; hack/tools.sh
// realnode builds it). It is its own module because k8s.io/kubernetes
// builds only with every k8s.io staging module replaced by its published
// version, and lifeboat's own go.mod must not require k8s.io/kubernetes.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
