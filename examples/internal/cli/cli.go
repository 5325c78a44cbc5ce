// Package cli holds what the example programs share: the Kubernetes
// client configuration from a -kubeconfig flag or the pod's service
// account, and the etcd client from flags or the ETCDCTL_* variables.
// It is internal to the examples; embedders build their own clients.
package cli

import (
	"context"
	"errors"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lifeboat-dev/lifeboat/etcdconn"
)

// ErrNoKubeconfig: no -kubeconfig was given and the program does not run
// in a pod.
var ErrNoKubeconfig = errors.New("no -kubeconfig and not running in a cluster")

// RestConfig loads the kubeconfig file at path, or the in-cluster
// configuration (the pod's service account) when path is empty; outside a
// pod with no path the error is ErrNoKubeconfig.
func RestConfig(path string) (*rest.Config, error) {
	if path == "" {
		cfg, err := rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, ErrNoKubeconfig
		}
		return cfg, err
	}
	return clientcmd.BuildConfigFromFlags("", path)
}

// EtcdClient connects to the comma-separated endpoints with the given TLS
// files, or, when endpoints is empty, with the ETCDCTL_* variables the
// runbook sources on a master (etcdconn.FromEnv).
func EtcdClient(ctx context.Context, endpoints, cacert, cert, key string) (*clientv3.Client, error) {
	if endpoints == "" {
		return etcdconn.FromEnv(ctx)
	}
	return etcdconn.New(ctx, etcdconn.Config{
		Endpoints: strings.Split(endpoints, ","),
		CAFile:    cacert, CertFile: cert, KeyFile: key,
	})
}
