package clustertest

import (
	"context"
	"fmt"

	configv1 "github.com/openshift/api/config/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// clusterNetwork is OpenShift's default pod network.
const clusterNetwork = "10.128.0.0/14"

// seedClusterNetworkConfig creates the Infrastructure and Network config
// objects "cluster" an installed AWS cluster has: the API server's URLs
// (api.<domain>, api-int.<domain>, port 6443) and the pod and service
// networks the API server runs with. Certificate approval reads them to
// know the in-cluster names and addresses no node may claim.
func (c *Cluster) seedClusterNetworkConfig(ctx context.Context) error {
	cfg := c.Config.ConfigV1()
	infra, err := cfg.Infrastructures().Create(ctx, &configv1.Infrastructure{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
		Spec: configv1.InfrastructureSpec{
			PlatformSpec: configv1.PlatformSpec{Type: configv1.AWSPlatformType},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: creating infrastructure/cluster: %w", err)
	}
	infra.Status = configv1.InfrastructureStatus{
		InfrastructureName:     c.name,
		Platform:               configv1.AWSPlatformType,
		PlatformStatus:         &configv1.PlatformStatus{Type: configv1.AWSPlatformType, AWS: &configv1.AWSPlatformStatus{Region: seedRegion}},
		EtcdDiscoveryDomain:    c.domain,
		APIServerURL:           "https://api." + c.domain + ":6443",
		APIServerInternalURL:   "https://api-int." + c.domain + ":6443",
		ControlPlaneTopology:   configv1.HighlyAvailableTopologyMode,
		InfrastructureTopology: configv1.HighlyAvailableTopologyMode,
		CPUPartitioning:        configv1.CPUPartitioningNone,
	}
	if _, err := cfg.Infrastructures().UpdateStatus(ctx, infra, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("clustertest: infrastructure/cluster status: %w", err)
	}

	// The networks CRD has no status subresource: status is written with
	// the object.
	entries := []configv1.ClusterNetworkEntry{{CIDR: clusterNetwork, HostPrefix: 23}}
	_, err = cfg.Networks().Create(ctx, &configv1.Network{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
		Spec: configv1.NetworkSpec{
			ClusterNetwork: entries,
			ServiceNetwork: []string{serviceNetwork},
			NetworkType:    "OpenShiftSDN",
		},
		Status: configv1.NetworkStatus{ClusterNetwork: entries, ServiceNetwork: []string{serviceNetwork}, NetworkType: "OpenShiftSDN", ClusterNetworkMTU: 8951},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: creating network/cluster: %w", err)
	}
	return nil
}
