package member

import (
	"context"
	"strings"
	"testing"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/release"
)

func clusterVersion(version string) *configfake.Clientset {
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version"}}
	cv.Status.History = []configv1.UpdateHistory{{State: configv1.CompletedUpdate, Version: version, StartedTime: metav1.Now()}}
	return configfake.NewClientset(cv)
}

// TestChooseProcedure: the quorum guard steps run from 4.11 and on 4.18+,
// the 4.5 runbook's procedure before and when the release is unknown; an
// override wins; the choice names its evidence.
func TestChooseProcedure(t *testing.T) {
	tests := []struct {
		name        string
		deps        Deps
		opts        ReplaceOptions
		wantCurrent bool
		wantText    string
	}{
		{"4.5 runbook", Deps{Config: clusterVersion("4.5.2")}, ReplaceOptions{}, false, "4.5.2"},
		{"4.10 still the runbook's", Deps{Config: clusterVersion("4.10.67")}, ReplaceOptions{}, false, "4.10.67"},
		{"4.11 current", Deps{Config: clusterVersion("4.11.0")}, ReplaceOptions{}, true, "4.11.0"},
		{"4.14 current", Deps{Config: clusterVersion("4.14.8")}, ReplaceOptions{}, true, "quorum guard is turned off"},
		{"4.20 current", Deps{Config: clusterVersion("4.20.3")}, ReplaceOptions{}, true, "etcd-only"},
		{"unknown: the runbook's, said so", Deps{}, ReplaceOptions{}, false, "release unknown"},
		{"override wins", Deps{Config: clusterVersion("4.5.2")}, ReplaceOptions{Release: release.Options{Version: "4.16.3"}}, true, "4.16.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ChooseProcedure(context.Background(), tc.deps, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if c.Current != tc.wantCurrent || !strings.Contains(c.String(), tc.wantText) {
				t.Errorf("choice %+v (%s), want current %v mentioning %q", c, c, tc.wantCurrent, tc.wantText)
			}
		})
	}
}
