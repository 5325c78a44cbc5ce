package certs_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// countingTransport counts the requests made through it.
type countingTransport struct {
	rt    http.RoundTripper
	calls *atomic.Int64
}

func (c countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls.Add(1)
	return c.rt.RoundTrip(r)
}

const benchNamespace = "lifeboat-bench-machines"

// seedBench creates, in a Machine namespace of its own (so that clustertest's
// machine controller leaves them alone), nodes Machines and Nodes whose
// client certificates expired, and for each node a node-bootstrapper client
// CSR and a kubelet-serving CSR filed through the real API as their
// requestors (impersonated).
func seedBench(b *testing.B, ctx context.Context, c *clustertest.Cluster, nodes int) {
	b.Helper()
	cfg := rest.CopyConfig(c.RESTConfig)
	cfg.QPS, cfg.Burst = 1000, 1000
	kube := kubernetes.NewForConfigOrDie(cfg)
	machines := machineclient.NewForConfigOrDie(cfg)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	_, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "lifeboat-bench-csr-filers"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:node-bootstrapper"},
		Subjects: []rbacv1.Subject{
			{Kind: "ServiceAccount", Name: "node-bootstrapper", Namespace: "openshift-machine-config-operator"},
			{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: certs.NodesGroup},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	impersonated := func(user string, groups ...string) kubernetes.Interface {
		ic := rest.CopyConfig(cfg)
		ic.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
		return kubernetes.NewForConfigOrDie(ic)
	}
	bootstrapper := impersonated(certs.NodeBootstrapperUser, "system:serviceaccounts", "system:serviceaccounts:openshift-machine-config-operator")

	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	sem := make(chan struct{}, 16)
	for i := range nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			name := fmt.Sprintf("bench-node-%03d.ec2.internal", i)
			ip := fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)
			addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}, {Type: corev1.NodeInternalDNS, Address: name}, {Type: corev1.NodeHostName, Address: name}}
			m, err := machines.MachineV1beta1().Machines(benchNamespace).Create(ctx, &machinev1beta1.Machine{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-machine-%03d", i)}}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
				return
			}
			m.Status.Addresses, m.Status.NodeRef = addrs, &corev1.ObjectReference{Kind: "Node", Name: name}
			if _, err := machines.MachineV1beta1().Machines(benchNamespace).UpdateStatus(ctx, m, metav1.UpdateOptions{}); err != nil {
				errs <- err
				return
			}
			n, err := kube.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: certs.TaintUnreachable, Effect: corev1.TaintEffectNoExecute}}}}, metav1.CreateOptions{})
			if err != nil {
				errs <- err
				return
			}
			n.Status.Addresses = addrs
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"}}
			if _, err := kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
				errs <- err
				return
			}
			subject := pkix.Name{CommonName: certs.NodeUserPrefix + name, Organization: []string{certs.NodesGroup}}
			file := func(k kubernetes.Interface, signer string, tmpl *x509.CertificateRequest, usages ...certv1.KeyUsage) error {
				_, err := k.CertificatesV1().CertificateSigningRequests().Create(ctx, &certv1.CertificateSigningRequest{
					ObjectMeta: metav1.ObjectMeta{GenerateName: "csr-"},
					Spec:       certv1.CertificateSigningRequestSpec{Request: pemCSR(b, tmpl), SignerName: signer, Usages: usages},
				}, metav1.CreateOptions{})
				return err
			}
			if err := file(bootstrapper, certv1.KubeAPIServerClientKubeletSignerName, &x509.CertificateRequest{Subject: subject},
				certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth); err != nil {
				errs <- err
				return
			}
			if err := file(impersonated(certs.NodeUserPrefix+name, certs.NodesGroup), certv1.KubeletServingSignerName,
				&x509.CertificateRequest{Subject: subject, DNSNames: []string{name}, IPAddresses: []net.IP{net.ParseIP(ip)}},
				certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageServerAuth); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// BenchmarkApprovePendingCSRsOnClusterTest reviews and approves 1,000
// pending CSRs (500 nodes, a client and a serving CSR each) against the real
// kube-apiserver, and prints the time and the API calls made next to the
// 10 s target. Run with -benchtime=1x (the CSRs are consumed).
//
// LIFEBOAT_BENCH_PARALLEL sets ApproveOptions.Parallel (default: its zero
// value, 8 approvals at a time).
func BenchmarkApprovePendingCSRsOnClusterTest(b *testing.B) {
	const nodes = 500
	parallel, _ := strconv.Atoi(os.Getenv("LIFEBOAT_BENCH_PARALLEL"))
	ctx := context.Background()
	c := clustertest.Start(b, clustertest.Options{Workers: -1})
	seedBench(b, ctx, c, nodes)

	var calls atomic.Int64
	cfg := rest.CopyConfig(c.RESTConfig)
	cfg.QPS, cfg.Burst = 1000, 1000
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{rt: rt, calls: &calls} })
	kube := kubernetes.NewForConfigOrDie(cfg)
	machines := machineclient.NewForConfigOrDie(cfg)

	for b.Loop() {
		calls.Store(0)
		start := time.Now()
		ds, err := certs.ApprovePendingCSRs(ctx, kube, machines, certs.ApproveOptions{MachineNamespace: benchNamespace, Parallel: parallel})
		elapsed := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		approved := 0
		for _, d := range ds {
			if d.Outcome == certs.Approved {
				approved++
			}
		}
		b.ReportMetric(float64(calls.Load()), "api-calls/op")
		b.ReportMetric(float64(approved), "approved/op")
		fmt.Printf("reviewed %d pending CSRs, approved %d, in %s with %d API calls, parallel %d (target 10s: ratio %.2f)\n",
			len(ds), approved, elapsed.Round(time.Millisecond), calls.Load(), parallel, elapsed.Seconds()/10)
		if approved != 2*nodes {
			b.Errorf("approved %d of %d", approved, 2*nodes)
		}
		b.StopTimer()
		// Next iteration: nothing is pending any more; re-file to measure again.
		if b.N > 1 {
			b.Fatal("run with -benchtime=1x: the CSRs are consumed")
		}
		b.StartTimer()
	}
}
