package certs

import (
	"context"
	"errors"
	"testing"

	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// loadInventory reads the Infrastructure and Network config only for
// UseNodeAddresses without Machine API; a missing object leaves the
// cross-checks unknown (and serving CSRs refused), any other error fails.
func TestLoadInventoryClusterConfig(t *testing.T) {
	infra, network := clusterConfig()
	tests := []struct {
		name        string
		config      func() *configfake.Clientset
		wantInfra   bool
		wantNetwork bool
		wantErr     bool
	}{
		{name: "both", config: func() *configfake.Clientset { return configfake.NewClientset(infra, network) }, wantInfra: true, wantNetwork: true},
		{name: "network missing", config: func() *configfake.Clientset { return configfake.NewClientset(infra) }, wantInfra: true},
		{name: "API error", wantErr: true, config: func() *configfake.Clientset {
			c := configfake.NewClientset(infra, network)
			c.PrependReactor("get", "networks", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewServiceUnavailable("etcd is down")
			})
			return c
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := loadInventory(context.Background(), fake.NewClientset(), nil, ApproveOptions{UseNodeAddresses: true, Config: tc.config()})
			if tc.wantErr {
				var status apierrors.APIStatus
				if err == nil || !errors.As(err, &status) {
					t.Fatalf("err = %v, want the API error wrapped", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (inv.Infrastructure != nil) != tc.wantInfra || (inv.Network != nil) != tc.wantNetwork {
				t.Errorf("infrastructure %v network %v, want %v %v", inv.Infrastructure != nil, inv.Network != nil, tc.wantInfra, tc.wantNetwork)
			}
		})
	}
}
