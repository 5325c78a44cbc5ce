package certs_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// Issue 11 fault 2, through the real API server: without Machine API
// (UseNodeAddresses) worker-0 writes foreign names into its own Node
// status, as any node may, then files a kubelet-serving CSR for each. Every
// one must stay pending with a reason naming the rule that refused it; a
// CSR for worker-0's own addresses is still approved.
func TestApproveServingNodeAddressesRefusesForeignNamesOnClusterTest(t *testing.T) {
	t.Parallel() // its own cluster
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := clustertest.Start(t, clustertest.Options{})
	workers := c.Workers()
	if len(workers) < 2 {
		t.Fatalf("workers %v, want two", workers)
	}
	w0, w1 := workers[0], workers[1]
	nodeGroups := []string{certs.NodesGroup, certs.AuthenticatedGroup}
	asW0 := impersonate(t, c.RESTConfig, certs.NodeUserPrefix+w0, nodeGroups...)

	infra, err := c.Config.ConfigV1().Infrastructures().Get(ctx, "cluster", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostOf := func(raw string) string {
		t.Helper()
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			t.Fatalf("Infrastructure URL %q: %v", raw, err)
		}
		return u.Hostname()
	}
	apiInt, api := hostOf(infra.Status.APIServerInternalURL), hostOf(infra.Status.APIServerURL)

	own, err := c.Kube.CoreV1().Nodes().Get(ctx, w0, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.Kube.CoreV1().Nodes().Get(ctx, w1, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addrOf := func(n *corev1.Node, typ corev1.NodeAddressType) string {
		t.Helper()
		for _, a := range n.Status.Addresses {
			if a.Type == typ {
				return a.Address
			}
		}
		t.Fatalf("node %s has no %s address: %v", n.Name, typ, n.Status.Addresses)
		return ""
	}
	ownIP, ownHost := addrOf(own, corev1.NodeInternalIP), addrOf(own, corev1.NodeHostName)
	otherIP, otherHost := addrOf(other, corev1.NodeInternalIP), addrOf(other, corev1.NodeHostName)

	tests := []struct {
		name string
		dns  string
		ip   string
		want certs.Rule // "" for the legitimate CSR
	}{
		{name: "own-addresses", dns: ownHost, ip: ownIP},
		{name: "kubernetes", dns: "kubernetes", want: certs.RuleKubernetesServiceName},
		{name: "kubernetes-default", dns: "kubernetes.default", want: certs.RuleKubernetesServiceName},
		{name: "kubernetes-default-svc", dns: "kubernetes.default.svc", want: certs.RuleKubernetesServiceName},
		{name: "kubernetes-default-svc-cluster-local", dns: "kubernetes.default.svc.cluster.local", want: certs.RuleKubernetesServiceName},
		{name: "api-int", dns: apiInt, want: certs.RuleAPIServerName},
		{name: "api", dns: api, want: certs.RuleAPIServerName},
		{name: "service-ip", ip: "172.30.0.1", want: certs.RuleKubernetesServiceIP},
		{name: "other-node-ip", ip: otherIP, want: certs.RuleOtherNodeAddress},
		{name: "other-node-hostname", dns: otherHost, want: certs.RuleOtherNodeAddress},
	}

	// worker-0's kubelet reports every one of those names as its own.
	err = retryOnConflict(ctx, func() error {
		n, err := asW0.CoreV1().Nodes().Get(ctx, w0, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, tc := range tests[1:] {
			if tc.dns != "" {
				n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: tc.dns})
			}
			if tc.ip != "" {
				n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: tc.ip})
			}
		}
		_, err = asW0.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("worker-0 updating its own addresses: %v", err)
	}

	servingUsages := []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageServerAuth}
	var names []string
	for _, tc := range tests {
		tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: certs.NodeUserPrefix + w0, Organization: []string{certs.NodesGroup}}}
		if tc.dns != "" {
			tmpl.DNSNames = []string{tc.dns}
		}
		if tc.ip != "" {
			tmpl.IPAddresses = []net.IP{net.ParseIP(tc.ip)}
		}
		name := "w0-serving-" + tc.name
		names = append(names, name)
		_, err := asW0.CertificatesV1().CertificateSigningRequests().Create(ctx, &certv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       certv1.CertificateSigningRequestSpec{Request: pemCSR(t, tmpl), SignerName: certv1.KubeletServingSignerName, Usages: servingUsages},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}

	ds, err := certs.ApproveKubeletServingCSRs(ctx, c.Kube, nil, certs.ApproveOptions{UseNodeAddresses: true, Config: c.Config, Names: names})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]certs.Decision{}
	for _, d := range ds {
		got[d.Name] = d
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "w0-serving-" + tc.name
			d, ok := got[name]
			if !ok {
				t.Fatalf("no decision for %s: %v", name, ds)
			}
			csr, err := c.Kube.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if d.Outcome != certs.Approved || d.Policy != certs.PolicyKubeletServingNodeAddresses || !certs.IsApproved(csr) {
					t.Fatalf("legitimate CSR not approved: %v; conditions %+v", d, csr.Status.Conditions)
				}
				return
			}
			if d.Outcome != certs.Skipped || !certs.IsPending(csr) {
				t.Fatalf("outcome %s, pending=%v, want skipped and pending: %v", d.Outcome, certs.IsPending(csr), d)
			}
			if !slices.Equal(d.Rules, []certs.Rule{tc.want}) {
				t.Errorf("rules %q, want [%s]: %v", d.Rules, tc.want, d)
			}
			if len(d.Reasons) != 1 || !strings.Contains(d.Reasons[0], "refused by rule "+string(tc.want)) {
				t.Errorf("reasons %q, want one naming rule %s", d.Reasons, tc.want)
			}
		})
	}

	// The same review without the config client cannot know the cluster's
	// names: nothing is approved from self-reported addresses.
	ds, err = certs.ApproveKubeletServingCSRs(ctx, c.Kube, nil, certs.ApproveOptions{UseNodeAddresses: true, DryRun: true, Names: []string{"w0-serving-other-node-ip"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Outcome != certs.Skipped || !slices.Equal(ds[0].Rules, []certs.Rule{certs.RuleClusterIdentitiesUnknown}) {
		t.Errorf("without config: %v", ds)
	}
}

// retryOnConflict retries fn while it returns a conflict (the simulated
// node controller writes Node status too).
func retryOnConflict(ctx context.Context, fn func() error) error {
	var err error
	for range 20 {
		if err = fn(); err == nil || !apierrors.IsConflict(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return err
}
