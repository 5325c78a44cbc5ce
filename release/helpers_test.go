package release

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
)

// entry is a status.history entry: "4.14.8" Completed, "4.18.2~" Partial.
func history(entries ...string) []configv1.UpdateHistory {
	var h []configv1.UpdateHistory
	for _, e := range entries {
		st := configv1.CompletedUpdate
		if v, ok := strings.CutSuffix(e, "~"); ok {
			e, st = v, configv1.PartialUpdate
		}
		h = append(h, configv1.UpdateHistory{State: st, Version: e, StartedTime: metav1.Now()})
	}
	return h
}

// fakeConfig is a config clientset holding ClusterVersion "version" with
// hist (newest first).
func fakeConfig(hist []configv1.UpdateHistory) *configfake.Clientset {
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version"}}
	cv.Status.History = hist
	if len(hist) > 0 {
		cv.Status.Desired.Version = hist[0].Version
	}
	return configfake.NewClientset(cv)
}

// etcdPod is an etcd static pod manifest with the named containers.
func etcdPod(containers ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: openshift-etcd\n  labels:\n    app: etcd\nspec:\n  containers:\n")
	for _, c := range containers {
		b.WriteString("  - name: " + c + "\n    image: quay.io/x\n")
	}
	return b.String()
}

var (
	classicPod  = etcdPod("etcdctl", "etcd", "etcd-metrics", "etcd-readyz")
	etcdOnlyPod = etcdPod("etcdctl", "etcd", "etcd-metrics", "etcd-readyz", "etcd-rev")
	restorePod  = etcdPod("etcd", "etcd-readyz") // 4.18's restore pod: no etcd-rev
)

// hostTree returns a local host rooted in a temporary directory holding
// files (host path → content).
func hostTree(t *testing.T, files map[string]string) host.Host {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hosttest.NewDir("master-0", root, hosttest.DirOptions{})
}

// decided returns the Where of every deciding piece of evidence.
func decided(d Decision) []string {
	var out []string
	for _, e := range d.Evidence {
		if e.Decided {
			out = append(out, string(e.Source)+" "+e.Where)
		}
	}
	return out
}
