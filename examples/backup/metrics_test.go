package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/freshness"
	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// staticResources writes the master's static pod resources under root.
func staticResources(t *testing.T, root string) {
	t.Helper()
	for _, c := range backup.Components() {
		pod := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %[1]s\n  namespace: openshift-%[1]s\n  labels:\n    revision: \"3\"\nspec:\n  containers:\n  - name: %[1]s\n    image: quay.io/openshift/%[1]s\n", c)
		for _, p := range []string{"etc/kubernetes/manifests/" + c + "-pod.yaml", "etc/kubernetes/static-pod-resources/" + c + "-pod-3/" + c + "-pod.yaml"} {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, p), []byte(pod), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// pushes records what a Pushgateway would receive: per request, the
// method, the group path and the decoded families.
type pushes struct {
	mu   sync.Mutex
	last map[string]*dto.MetricFamily
	path []string
}

func (p *pushes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fams := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(r.Body, expfmt.NewFormat(expfmt.TypeProtoDelim))
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			break
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fams[mf.GetName()] = &mf
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last, p.path = fams, append(p.path, r.Method+" "+r.URL.Path)
}

// textfileValue reads one series of the textfile.
func textfileValue(t *testing.T, path, name string) (float64, bool) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatal(err)
	}
	mf := fams[name]
	if mf == nil || len(mf.GetMetric()) != 1 {
		return 0, false
	}
	m := mf.GetMetric()[0]
	if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != freshness.LabelDestination || l[0].GetValue() != "local" {
		t.Errorf("%s labels %v", name, l)
	}
	if m.Counter != nil {
		return m.GetCounter().GetValue(), true
	}
	return m.GetGauge().GetValue(), true
}

// TestBackupProgramMetrics runs the program twice against a real etcd
// member without an API server (-force): a backup that succeeds, then one
// that fails (no static pod resources). The textfile and the Pushgateway
// see both, and the failed run keeps the first one's last success.
func TestBackupProgramMetrics(t *testing.T) {
	etcd := clustertest.StartEtcd(t, clustertest.EtcdOptions{Members: 1})
	tls := etcd.ClientTLS()
	master := t.TempDir()
	staticResources(t, master)
	gw := &pushes{}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	prom := filepath.Join(t.TempDir(), "lifeboat_backup.prom")
	args := func(hostRoot, dir string) []string {
		return []string{
			"-kubeconfig", "", "-force",
			"-endpoints", strings.Join(etcd.Endpoints(), ","),
			"-cacert", tls.CAFile, "-cert", tls.CertFile, "-key", tls.KeyFile,
			"-host-root", hostRoot, "-node", "master-0",
			"-metrics-textfile", prom, "-pushgateway", srv.URL, "-metrics-destination", "local",
			dir,
		}
	}

	var out, errb bytes.Buffer
	if code := run(args(master, t.TempDir()), &out, &errb); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	success, ok := textfileValue(t, prom, freshness.LastSuccessTimestamp)
	if !ok || success == 0 {
		t.Fatalf("no last success in the textfile")
	}
	if v, _ := textfileValue(t, prom, freshness.LastAttemptSuccess); v != 1 {
		t.Errorf("last attempt success %v, want 1", v)
	}
	if v, _ := textfileValue(t, prom, freshness.LastSuccessSnapshotBytes); v <= 0 {
		t.Errorf("snapshot bytes %v", v)
	}
	if gw.last[freshness.LastAttemptSuccess].GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("pushed %v", gw.last[freshness.LastAttemptSuccess])
	}

	out.Reset()
	errb.Reset()
	if code := run(args(t.TempDir(), t.TempDir()), &out, &errb); code != exitFailed {
		t.Fatalf("backup without static pod resources: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if strings.Contains(errb.String(), "metrics:") {
		t.Errorf("metrics not reported: %s", errb.String())
	}
	for name, want := range map[string]float64{
		freshness.LastSuccessTimestamp: success, freshness.LastAttemptSuccess: 0,
		freshness.AttemptsTotal: 2, freshness.FailuresTotal: 1,
	} {
		if v, ok := textfileValue(t, prom, name); !ok || v != want {
			t.Errorf("after the failed run, %s = %v (%v), want %v", name, v, ok, want)
		}
	}
	if v := gw.last[freshness.LastAttemptSuccess].GetMetric()[0].GetGauge().GetValue(); v != 0 {
		t.Errorf("pushed last attempt success %v, want 0", v)
	}
	if want := "POST /metrics/job/lifeboat_backup/destination/local"; len(gw.path) != 2 || gw.path[1] != want {
		t.Errorf("pushes %v, want two of %s", gw.path, want)
	}

	// Bad metrics flags are refused before anything is attempted.
	for _, bad := range [][]string{
		{"-metrics-textfile", filepath.Join(t.TempDir(), "metrics.txt"), t.TempDir()},
		{"-pushgateway", "http://user:pw@gw:9091", t.TempDir()},
		{"-pushgateway", "http://gw:9091", "-metrics-destination", "", t.TempDir()},
	} {
		if code := run(bad, io.Discard, io.Discard); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
}
