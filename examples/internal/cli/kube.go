package cli

import (
	"flag"
	"fmt"
	"os"

	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// KubeFlags is the -kubeconfig flag every example takes.
type KubeFlags struct {
	// Kubeconfig is the file; empty means the in-cluster configuration.
	Kubeconfig string
}

// Register adds -kubeconfig to fs, defaulting to $KUBECONFIG.
func (k *KubeFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&k.Kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file; empty means the in-cluster configuration")
}

// Clients connects the API clients the procedures take (see NewClients).
func (k *KubeFlags) Clients() (*Clients, error) {
	cfg, err := RestConfig(k.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return NewClients(cfg)
}

// Clients are the Kubernetes and OpenShift API clients of one cluster.
type Clients struct {
	REST     *rest.Config
	Kube     kubernetes.Interface
	Config   configclient.Interface   // config.openshift.io: ClusterVersion, ClusterOperators
	Operator operatorclient.Interface // operator.openshift.io: Etcd, KubeAPIServer, ...
	Machine  machineclient.Interface  // machine.openshift.io: Machines
}

// NewClients builds every client from cfg. Building does no I/O: a wrong
// address shows at the first call.
func NewClients(cfg *rest.Config) (*Clients, error) {
	c := &Clients{REST: cfg}
	var err error
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	if c.Config, err = configclient.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("openshift config client: %w", err)
	}
	if c.Operator, err = operatorclient.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("openshift operator client: %w", err)
	}
	if c.Machine, err = machineclient.NewForConfig(cfg); err != nil {
		return nil, fmt.Errorf("machine API client: %w", err)
	}
	return c, nil
}
