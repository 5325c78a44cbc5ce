package lifecycle

import (
	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/host"
)

// HostFunc returns the host of a node, for example an SSH connection to it.
type HostFunc func(node string) (host.Host, error)

// Deps are the clients the shutdown and restart plans act through. The
// plans keep them and do no I/O until they run.
type Deps struct {
	// Kube reads nodes, the kubelet signer and CSRs; required.
	Kube kubernetes.Interface
	// Hosts reaches each node's host; required by ShutdownPlan.
	Hosts HostFunc
	// Config reads the ClusterOperators; RestartPlan skips its operators
	// phase when nil.
	Config configclient.Interface
	// Machine lets the CSR review match a node-bootstrapper CSR to its
	// Machine; nil when the cluster has no Machine API (see
	// certs.ApproveOptions.UseNodeAddresses).
	Machine machineclient.Interface
}
