package release_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/release"
)

// TestDetectOnClustertest detects the generation of simulated 4.14 and 4.20
// clusters the two ways an administrator's tool does: from the API while it
// answers, and from a master host alone (as when the API is down), and
// checks the two agree.
func TestDetectOnClustertest(t *testing.T) {
	if testing.Short() {
		t.Skip("starts simulated clusters")
	}
	if _, err := clustertest.FindBinaries(); err != nil {
		t.Skipf("etcd and kube-apiserver binaries missing (run hack/tools.sh): %v", err)
	}
	for _, tc := range []struct {
		release    string
		generation release.Generation
		containers []string // the etcd pod's containers "crictl ps" shows
	}{
		{"4.14.8", release.GenerationClassic, []string{"etcdctl", "etcd", "etcd-metrics", "etcd-readyz"}},
		{"4.20.3", release.GenerationEtcdOnly, []string{"etcdctl", "etcd", "etcd-metrics", "etcd-readyz", "etcd-rev"}},
	} {
		t.Run(tc.release, func(t *testing.T) {
			t.Parallel() // each release on its own cluster
			c := clustertest.Start(t, clustertest.Options{Release: tc.release, Workers: -1})
			ctx := t.Context()

			cv, err := c.Config.ConfigV1().ClusterVersions().Get(ctx, "version", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if h := cv.Status.History; len(h) != 1 || h[0].Version != tc.release || h[0].State != configv1.CompletedUpdate {
				t.Fatalf("ClusterVersion history %+v, want %s Completed", h, tc.release)
			}

			d, err := release.Detect(ctx, release.Deps{Config: c.Config}, release.Options{})
			if err != nil {
				t.Fatalf("Detect from the API: %v", err)
			}
			if d.Generation != tc.generation || d.Version != tc.release || !strings.Contains(d.String(), "ClusterVersion") {
				t.Errorf("from the API: %s (version %q), want %s from ClusterVersion %s", d, d.Version, tc.generation, tc.release)
			}

			for _, m := range c.Masters() {
				hd, err := release.Detect(ctx, release.Deps{Host: c.Host(m)}, release.Options{})
				if err != nil {
					t.Fatalf("Detect from host %s: %v", m, err)
				}
				if hd.Generation != tc.generation || hd.Version != "" {
					t.Errorf("from host %s: %s, want %s", m, hd, tc.generation)
				}
				for _, e := range hd.Evidence {
					if e.Decided && e.Source != release.SourceHost {
						t.Errorf("host-only decision rests on %s", e)
					}
				}
				running := runningContainers(t, c, m)
				for _, name := range tc.containers {
					if !running[name] {
						t.Errorf("host %s: container %s not running (running: %v)", m, name, running)
					}
				}
				if running[release.EtcdRevContainer] != (tc.generation == release.GenerationEtcdOnly) {
					t.Errorf("host %s: etcd-rev running %v on a %s cluster", m, running[release.EtcdRevContainer], tc.generation)
				}
			}

			both, err := release.Detect(ctx, release.Deps{Config: c.Config, Host: c.Host(c.Masters()[0])}, release.Options{RefuseConflict: true})
			if err != nil || both.Generation != tc.generation || both.Conflict {
				t.Errorf("API and host together: %s, %v; want %s without conflict", both, err, tc.generation)
			}
		})
	}
}

// runningContainers returns the names "crictl ps" lists on node once its
// etcd pod runs.
func runningContainers(t *testing.T, c *clustertest.Cluster, node string) map[string]bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ctrs, err := c.Host(node).Containers(t.Context(), "")
		if err != nil {
			t.Fatalf("crictl ps on %s: %v", node, err)
		}
		out := map[string]bool{}
		for _, ctr := range ctrs {
			out[ctr.Name] = true
		}
		if out["etcd"] || time.Now().After(deadline) {
			return out
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestClustertestReleaseOptions: clustertest refuses contradictory or
// unknown releases before starting anything.
func TestClustertestReleaseOptions(t *testing.T) {
	for name, opts := range map[string]clustertest.Options{
		"Release and ClusterVersion differ": {Release: "4.20.3", ClusterVersion: "4.14.8"},
		"release before 4.5":                {Release: "4.4.1"},
		"not a version":                     {Release: "latest"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := clustertest.New(t.Context(), opts)
			if err == nil {
				t.Fatal("New accepted the options")
			}
			if name != "Release and ClusterVersion differ" && !errors.Is(err, release.ErrUnsupportedRelease) && !errors.Is(err, release.ErrInvalidVersion) {
				t.Errorf("error %v, want a release error", err)
			}
		})
	}
}
