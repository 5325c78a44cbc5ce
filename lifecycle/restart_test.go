package lifecycle

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	configclient "github.com/openshift/client-go/config/clientset/versioned"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"github.com/lifeboat-dev/lifeboat/plan"
)

var nodesGVR = corev1.SchemeGroupVersion.WithResource("nodes")

// bootstrapCSR is a node-bootstrapper CSR for node (valid unless extraOrg).
func bootstrapCSR(t *testing.T, name, node string, extraOrg ...string) *certv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: append([]string{"system:nodes"}, extraOrg...)},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Now()},
		Spec: certv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth},
			Username:   certs.NodeBootstrapperUser,
			Groups:     certs.NodeBootstrapperGroups(),
		},
	}
}

func testMachine(node string) *machinev1beta1.Machine {
	return &machinev1beta1.Machine{
		ObjectMeta: metav1.ObjectMeta{Name: "m-" + node, Namespace: names.MachineAPINamespace, CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))},
		Status: machinev1beta1.MachineStatus{
			NodeRef:   &corev1.ObjectReference{Kind: "Node", Name: node},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalDNS, Address: node}},
		},
	}
}

func testOperator(name string, available, degraded bool) *configv1.ClusterOperator {
	b := func(v bool) configv1.ConditionStatus {
		if v {
			return configv1.ConditionTrue
		}
		return configv1.ConditionFalse
	}
	return &configv1.ClusterOperator{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: configv1.ClusterOperatorStatus{
		Conditions: []configv1.ClusterOperatorStatusCondition{
			{Type: configv1.OperatorAvailable, Status: b(available)},
			{Type: configv1.OperatorDegraded, Status: b(degraded), Message: name + " is unhappy"},
		},
	}}
}

// restartCluster is a cluster just powered on: every node NotReady, each
// with a pending node-bootstrapper CSR whose approval makes it Ready (as the
// kubelet does once its certificate is issued).
func restartCluster(t *testing.T, unschedulableMaster bool) (*fake.Clientset, *machinefake.Clientset) {
	t.Helper()
	nodes := []string{"master-0", "master-1", "master-2", "worker-0", "worker-1"}
	var kobjs, mobjs []runtime.Object
	for _, n := range nodes {
		kobjs = append(kobjs, testNode(n, strings.HasPrefix(n, "master"), false, unschedulableMaster && n == "master-0"),
			bootstrapCSR(t, "csr-"+n, n))
		mobjs = append(mobjs, testMachine(n))
	}
	// A bogus CSR asking for system:masters must never be approved.
	kobjs = append(kobjs, bootstrapCSR(t, "csr-bogus", "master-1", "system:masters"))
	kube := fake.NewClientset(kobjs...)
	kube.PrependReactor("update", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "approval" {
			return false, nil, nil
		}
		csr := a.(k8stesting.UpdateAction).GetObject().(*certv1.CertificateSigningRequest)
		node := strings.TrimPrefix(csr.Name, "csr-")
		o, err := kube.Tracker().Get(nodesGVR, "", node)
		if err != nil {
			return false, nil, nil
		}
		n := o.(*corev1.Node).DeepCopy()
		n.Status.Conditions[0].Status = corev1.ConditionTrue
		if err := kube.Tracker().Update(nodesGVR, n, ""); err != nil {
			t.Error(err)
		}
		return false, nil, nil
	})
	return kube, machinefake.NewClientset(mobjs...)
}

func TestRestart(t *testing.T) {
	ctx := context.Background()
	kube, machines := restartCluster(t, true)
	config := configfake.NewClientset(testOperator("etcd", true, false), testOperator("kube-apiserver", true, false))
	var progress []string
	res, err := runRestart(ctx, kube, config, machines, RestartOptions{
		Interval: 5 * time.Millisecond, UncordonMasters: true,
	}, &progress)
	if err != nil {
		t.Fatalf("Restart: %v\n%s", err, strings.Join(progress, "\n"))
	}
	for _, n := range append(res.Masters, res.Workers...) {
		if !n.Ready {
			t.Errorf("%s not Ready", n.Name)
		}
	}
	if len(res.Masters) != 3 || len(res.Workers) != 2 {
		t.Errorf("masters %v workers %v", res.Masters, res.Workers)
	}
	approved := map[string]bool{}
	for _, d := range res.CSRs {
		if d.Outcome == certs.Approved {
			approved[d.Name] = true
		}
	}
	for _, n := range []string{"csr-master-0", "csr-master-1", "csr-master-2", "csr-worker-0", "csr-worker-1"} {
		if !approved[n] {
			t.Errorf("%s not approved; decisions %v", n, res.CSRs)
		}
	}
	if approved["csr-bogus"] {
		t.Error("bogus CSR approved")
	}
	bogus, _ := kube.CertificatesV1().CertificateSigningRequests().Get(ctx, "csr-bogus", metav1.GetOptions{})
	if !certs.IsPending(bogus) {
		t.Errorf("bogus CSR is no longer pending: %+v", bogus.Status)
	}
	m0, _ := kube.CoreV1().Nodes().Get(ctx, "master-0", metav1.GetOptions{})
	if m0.Spec.Unschedulable || strings.Join(res.Uncordoned, ",") != "master-0" {
		t.Errorf("master-0 unschedulable=%v, uncordoned %v", m0.Spec.Unschedulable, res.Uncordoned)
	}
	if len(res.Operators) != 2 || len(res.NotReadyOperators) != 0 {
		t.Errorf("operators %v not ready %v", res.Operators, res.NotReadyOperators)
	}
	joined := strings.Join(progress, "\n")
	for _, want := range []string{"masters: 3 of 3 not Ready", "approved CSR csr-master-0", "masters: all 3 Ready", "workers: all 2 Ready", "operators: all 2 Available"} {
		if !strings.Contains(joined, want) {
			t.Errorf("progress lacks %q:\n%s", want, joined)
		}
	}
}

func TestRestartFailures(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T) (*fake.Clientset, *machinefake.Clientset, *configfake.Clientset)
		opts      RestartOptions
		wantPhase string
		wantIn    []string
		check     func(t *testing.T, res *RestartResult)
	}{
		{
			name: "masters never Ready (no CSR approval)",
			setup: func(t *testing.T) (*fake.Clientset, *machinefake.Clientset, *configfake.Clientset) {
				k, m := restartCluster(t, false)
				return k, m, configfake.NewClientset()
			},
			opts:      RestartOptions{SkipCSRApproval: true, MastersTimeout: 50 * time.Millisecond},
			wantPhase: "masters",
			wantIn:    []string{"master-0 Ready=Unknown NodeStatusUnknown", "runbook 5.3", "restore.Plan"},
		},
		{
			name: "a degraded ClusterOperator",
			setup: func(t *testing.T) (*fake.Clientset, *machinefake.Clientset, *configfake.Clientset) {
				k, m := restartCluster(t, false)
				return k, m, configfake.NewClientset(testOperator("etcd", true, false), testOperator("authentication", true, true), testOperator("console", false, false))
			},
			opts:      RestartOptions{OperatorsTimeout: 50 * time.Millisecond},
			wantPhase: "operators",
			wantIn:    []string{"authentication Available=true Degraded=true authentication is unhappy", "console Available=false"},
			check: func(t *testing.T, res *RestartResult) {
				if strings.Join(res.NotReadyOperators, ",") != "authentication,console" {
					t.Errorf("NotReadyOperators = %v", res.NotReadyOperators)
				}
			},
		},
		{
			name: "API never answers",
			setup: func(t *testing.T) (*fake.Clientset, *machinefake.Clientset, *configfake.Clientset) {
				k, m := restartCluster(t, false)
				k.PrependReactor("list", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewServiceUnavailable("etcd is starting")
				})
				return k, m, configfake.NewClientset()
			},
			opts:      RestartOptions{MastersTimeout: 50 * time.Millisecond},
			wantPhase: "masters",
			wantIn:    []string{"no node listed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kube, machines, config := tc.setup(t)
			tc.opts.Interval = 5 * time.Millisecond
			res, err := runRestart(context.Background(), kube, config, machines, tc.opts)
			var re *RecoveryError
			if !errors.Is(err, ErrClusterDidNotRecover) || !errors.As(err, &re) {
				t.Fatalf("err = %v, want a RecoveryError", err)
			}
			if re.Phase != tc.wantPhase || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("phase %q (want %q), cause %v", re.Phase, tc.wantPhase, re.Err)
			}
			for _, want := range tc.wantIn {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
			if res == nil {
				t.Fatal("nil result")
			}
			if tc.check != nil {
				tc.check(t, res)
			}
		})
	}
}

func TestRestartRecoversFromAPIErrorsAndKeepsCordon(t *testing.T) {
	kube, machines := restartCluster(t, true)
	var calls atomic.Int32
	kube.PrependReactor("list", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if calls.Add(1) <= 3 {
			return true, nil, apierrors.NewServiceUnavailable("starting")
		}
		return false, nil, nil
	})
	var progress []string
	res, err := runRestart(context.Background(), kube, nil, machines, RestartOptions{
		Interval: 5 * time.Millisecond,
	}, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.UnschedulableMasters, ",") != "master-0" || len(res.Uncordoned) != 0 {
		t.Errorf("unschedulable %v uncordoned %v", res.UnschedulableMasters, res.Uncordoned)
	}
	joined := strings.Join(progress, "\n")
	for _, want := range []string{"API not reachable yet", "masters still unschedulable: master-0", "ClusterOperators not checked"} {
		if !strings.Contains(joined, want) {
			t.Errorf("progress lacks %q:\n%s", want, joined)
		}
	}
}

func TestRestartCancelled(t *testing.T) {
	kube, machines := restartCluster(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(30 * time.Millisecond); cancel() }()
	_, err := runRestart(ctx, kube, nil, machines, RestartOptions{Interval: 5 * time.Millisecond, SkipCSRApproval: true})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrClusterDidNotRecover) {
		t.Fatalf("err = %v", err)
	}
}

// runRestart builds and runs RestartPlan as a caller does, collecting the
// progress messages in progress (when given), and returns the result the
// run filled.
func runRestart(ctx context.Context, kube kubernetes.Interface, config configclient.Interface, machines machineclient.Interface, opts RestartOptions, progress ...*[]string) (*RestartResult, error) {
	res := &RestartResult{}
	opts.Result = res
	p, err := RestartPlan(Deps{Kube: kube, Config: config, Machine: machines}, opts)
	if err != nil {
		return res, err
	}
	return res, p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) {
		if e.Status == plan.Progress && len(progress) > 0 {
			*progress[0] = append(*progress[0], e.Message)
		}
	}})
}
