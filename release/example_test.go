package release_test

import (
	"context"
	"fmt"
	"log"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/release"
)

// A cluster in the middle of an upgrade from 4.17.9 to 4.18.2: the
// completed 4.17.9 decides, and the target is reported. In a real program
// deps.Config is configclient.NewForConfig(restConfig) and deps.Host the
// recovery host (host.NewSSH, debugpod.New), which Detect asks when the
// API does not answer.
func ExampleDetect() {
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version"}}
	cv.Status.History = []configv1.UpdateHistory{
		{State: configv1.PartialUpdate, Version: "4.18.2"},
		{State: configv1.CompletedUpdate, Version: "4.17.9"},
	}
	deps := release.Deps{Config: configfake.NewClientset(cv)}

	d, err := release.Detect(context.Background(), deps, release.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Generation, d.Version, d.Target)
	fmt.Println(d)
	// Output:
	// classic 4.17.9 4.18.2
	// generation classic (4.5-4.17), from ClusterVersion clusterversion/version status.history[1]: completed version 4.17.9 (upgrade to 4.18.2 in progress, Partial; the completed version's procedure applies); the target is generation etcd-only: the etcd operator may already run it, see the host; upgrade to 4.18.2 in progress
}

// An override wins, and is recorded as the deciding evidence.
func ExampleDetect_override() {
	d, err := release.Detect(context.Background(), release.Deps{}, release.Options{Version: "4.20.3"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Overridden, d)
	// Output:
	// true generation etcd-only (4.18+), from override Options.Version: version 4.20.3
}
