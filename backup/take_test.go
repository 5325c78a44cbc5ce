package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

var testNow = time.Date(2020, 3, 18, 22, 2, 18, 0, time.Local)

func clusterOperator(name string, progressing configv1.ConditionStatus) *configv1.ClusterOperator {
	co := &configv1.ClusterOperator{ObjectMeta: metav1.ObjectMeta{Name: name}}
	co.Status.Conditions = []configv1.ClusterOperatorStatusCondition{
		{Type: configv1.OperatorAvailable, Status: configv1.ConditionTrue},
		{Type: configv1.OperatorProgressing, Status: progressing, Reason: "AsExpected", Message: "rolling out"},
		{Type: configv1.OperatorDegraded, Status: configv1.ConditionFalse},
	}
	return co
}

// healthyCluster is a 4.5.2 cluster installed two days before testNow,
// behind a proxy, with aescbc etcd encryption.
func healthyCluster() []runtime.Object {
	var objs []runtime.Object
	for _, name := range Operators() {
		objs = append(objs, clusterOperator(name, configv1.ConditionFalse))
	}
	installed := metav1.NewTime(testNow.Add(-48 * time.Hour))
	upgraded := metav1.NewTime(testNow.Add(-2 * time.Hour))
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version", CreationTimestamp: installed}}
	cv.Status.Desired.Version = "4.5.3"
	cv.Status.History = []configv1.UpdateHistory{
		{State: configv1.PartialUpdate, Version: "4.5.3", StartedTime: upgraded},
		{State: configv1.CompletedUpdate, Version: "4.5.2", StartedTime: installed, CompletionTime: &installed},
	}
	px := &configv1.Proxy{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	px.Spec.HTTPProxy = "http://proxy.example:3128"
	px.Status = configv1.ProxyStatus{HTTPProxy: "http://proxy.example:3128", HTTPSProxy: "http://proxy.example:3128", NoProxy: ".cluster.local,10.0.0.0/16"}
	as := &configv1.APIServer{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}}
	as.Spec.Encryption.Type = configv1.EncryptionTypeAESCBC
	return append(objs, cv, px, as)
}

func plentyOfSpace(string) (uint64, error) { return 1 << 40, nil }

func TestTake(t *testing.T) {
	db := makeBoltDB(t, 120)
	good := withTrailer(db)
	flipped := bytes.Clone(good)
	flipped[100] ^= 1
	fail := func(resource string) func(*configfake.Clientset) {
		return func(c *configfake.Clientset) {
			c.PrependReactor("get", resource, func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewServiceUnavailable("etcdserver: leader changed")
			})
		}
	}
	tests := []struct {
		name      string
		objects   func() []runtime.Object
		config    func(*configfake.Clientset)
		snap      []byte
		opts      func(*TakeOptions)
		noConfig  bool // TakeDeps.Config nil
		wantErr   error
		wantCheck string
		dirty     bool
		warnings  int
	}{
		{name: "ok", warnings: 1}, // the encryption warning
		{name: "operator progressing", objects: func() []runtime.Object {
			return append(healthyCluster(), clusterOperator("kube-scheduler", configv1.ConditionTrue))
		}, wantErr: ErrOperatorProgressing, wantCheck: "operators"},
		{name: "operator without progressing condition", objects: func() []runtime.Object {
			return append(healthyCluster(), &configv1.ClusterOperator{ObjectMeta: metav1.ObjectMeta{Name: "etcd"}})
		}, wantErr: ErrOperatorStatusUnknown, wantCheck: "operators"},
		{name: "operators unreadable", config: fail("clusteroperators"), wantErr: ErrOperatorStatusUnknown, wantCheck: "operators"},
		{name: "before first certificate rotation", opts: func(o *TakeOptions) {
			o.Now = func() time.Time { return testNow.Add(-47 * time.Hour) }
		}, wantErr: ErrTooEarly, wantCheck: "certificate-rotation"},
		{name: "not enough space", opts: func(o *TakeOptions) {
			o.FreeSpace = func(string) (uint64, error) { return uint64(2*len(good) - 1), nil }
		}, wantErr: ErrInsufficientSpace, wantCheck: "free-space"},
		{name: "cluster version unreadable", config: fail("clusterversions"), wantErr: ErrClusterInfo, wantCheck: "cluster-info"},
		{name: "snapshot corrupt", snap: flipped, wantErr: ErrHashMismatch},
		{name: "force past a progressing operator", objects: func() []runtime.Object {
			return append(healthyCluster(), clusterOperator("etcd", configv1.ConditionTrue))
		}, opts: func(o *TakeOptions) { o.Force = true }, dirty: true, warnings: 2},
		{name: "force with the API down", config: func(c *configfake.Clientset) {
			c.PrependReactor("*", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, errors.New("connection refused")
			})
		}, opts: func(o *TakeOptions) { o.Force = true }, dirty: true, warnings: 2},
		{name: "force without an API client", opts: func(o *TakeOptions) { o.Force = true }, noConfig: true, dirty: true, warnings: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := healthyCluster()
			if tc.objects != nil {
				objs = tc.objects()
			}
			// Later objects replace earlier ones of the same name.
			cfg := configfake.NewClientset()
			for _, o := range objs {
				if err := cfg.Tracker().Add(o); err != nil && apierrors.IsAlreadyExists(err) {
					gvr := schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "clusteroperators"}
					if err := cfg.Tracker().Update(gvr, o, ""); err != nil {
						t.Fatal(err)
					}
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if tc.config != nil {
				tc.config(cfg)
			}
			snap := good
			if tc.snap != nil {
				snap = tc.snap
			}
			root := t.TempDir()
			masterTree(t, root)
			dir := filepath.Join(t.TempDir(), "backup")
			deps := TakeDeps{Etcd: newFakeEtcd(snap), Host: hosttest.NewDir("master-0", root, hosttest.DirOptions{}), Config: cfg}
			if tc.noConfig {
				deps.Config = nil
			}
			opts := TakeOptions{
				Now:       func() time.Time { return testNow },
				FreeSpace: plentyOfSpace,
				Snapshot:  SnapshotOptions{BufferSize: 4096},
			}
			if tc.opts != nil {
				tc.opts(&opts)
			}
			b, events, err := takeRun(t.Context(), deps, dir, opts)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				var pe *PrecheckError
				if tc.wantCheck != "" && (!errors.As(err, &pe) || pe.Check != tc.wantCheck || pe.Fix == "") {
					t.Fatalf("err = %#v, want a *PrecheckError for %s naming a fix", err, tc.wantCheck)
				}
				assertNoFiles(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantSnap, wantArch := SnapshotFileName("2020-03-18_220218", tc.dirty), ResourcesFileName("2020-03-18_220218", tc.dirty)
			if b.Snapshot.Name != wantSnap || b.Resources.Name != wantArch {
				t.Errorf("files %s, %s; want %s, %s", b.Snapshot.Name, b.Resources.Name, wantSnap, wantArch)
			}
			if tc.dirty && (wantSnap != "snapshot_2020-03-18_220218__POSSIBLY_DIRTY__.db" || wantArch != "static_kuberesources_2020-03-18_220218__POSSIBLY_DIRTY__.tar.gz") {
				t.Errorf("dirty names %s %s", wantSnap, wantArch)
			}
			if len(b.Warnings) != tc.warnings {
				t.Errorf("warnings = %q, want %d", b.Warnings, tc.warnings)
			}
			for _, name := range []string{wantSnap, wantArch, ManifestFileName} {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v", name, fi.Mode())
				}
			}
			m, err := ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			if m.Snapshot.SHA256 != b.Snapshot.SHA256 || m.Resources.SHA256 != b.Resources.SHA256 || m.Revision != 42 ||
				m.EtcdVersion != "3.7.0" || m.EtcdServerVersion != "3.7.3" || m.PossiblyDirty != tc.dirty || m.Timestamp != "2020-03-18_220218" {
				t.Errorf("manifest %+v", m)
			}
			if tc.config == nil && deps.Config != nil {
				if m.ClusterVersion != "4.5.2" || !m.EncryptionEnabled || m.Encryption != "aescbc" {
					t.Errorf("manifest cluster info %+v", m)
				}
				if want := []string{"HTTP_PROXY=http://proxy.example:3128", "HTTPS_PROXY=http://proxy.example:3128", "NO_PROXY=.cluster.local,10.0.0.0/16"}; !slices.Equal(b.Proxy.Env(), want) {
					t.Errorf("proxy env %q", b.Proxy.Env())
				}
			}
			if len(events) == 0 || events[len(events)-1].Step.ID != "manifest" || events[len(events)-1].Status != plan.Done {
				t.Errorf("events %+v", events)
			}
			v, err := Verify(context.Background(), dir, VerifyOptions{})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.Manifest == nil || v.PossiblyDirty != tc.dirty || v.Revision != m.Revision {
				t.Errorf("Verify: %+v", v)
			}
		})
	}
}

func configFakeHealthy(t testing.TB) *configfake.Clientset {
	t.Helper()
	return configfake.NewClientset(healthyCluster()...)
}
