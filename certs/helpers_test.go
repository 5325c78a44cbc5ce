package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// t0 is when the fixture machines were created.
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

var (
	keyOnce sync.Once
	ecKey   crypto.Signer
	rsaKey  crypto.Signer
)

func keys(t testing.TB) (crypto.Signer, crypto.Signer) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return ecKey, rsaKey
}

// req describes an x509 certificate request.
type req struct {
	cn     string
	org    []string
	dns    []string
	ips    []string
	emails []string
	uris   []string
	rsa    bool
}

// pemRequest builds a real PKCS#10 request with x509.CreateCertificateRequest.
func pemRequest(t testing.TB, r req) []byte {
	t.Helper()
	ec, rs := keys(t)
	key := ec
	if r.rsa {
		key = rs
	}
	tmpl := &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: r.cn, Organization: r.org},
		DNSNames:       r.dns,
		EmailAddresses: r.emails,
	}
	for _, ip := range r.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	for _, u := range r.uris {
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

var (
	clientSet  = []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth}
	servingSet = []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageServerAuth}
)

// clientCSR is a valid node-bootstrapper CSR for node, created at created.
func clientCSR(t testing.TB, name, node string, created time.Time) *certv1.CertificateSigningRequest {
	t.Helper()
	return &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec: certv1.CertificateSigningRequestSpec{
			Request:    pemRequest(t, req{cn: nodeUserPrefix + node, org: []string{nodesGroup}}),
			SignerName: certv1.KubeAPIServerClientKubeletSignerName,
			Usages:     append([]certv1.KeyUsage(nil), clientSet...),
			Username:   NodeBootstrapperUser,
			Groups:     []string{"system:serviceaccounts", "system:serviceaccounts:openshift-machine-config-operator", authenticatedGroup},
		},
	}
}

// servingCSR is a kubelet serving CSR from node for the given names.
func servingCSR(t testing.TB, name, node string, dns, ips []string) *certv1.CertificateSigningRequest {
	t.Helper()
	return &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(time.Hour))},
		Spec: certv1.CertificateSigningRequestSpec{
			Request:    pemRequest(t, req{cn: nodeUserPrefix + node, org: []string{nodesGroup}, dns: dns, ips: ips}),
			SignerName: certv1.KubeletServingSignerName,
			Usages:     append([]certv1.KeyUsage(nil), servingSet...),
			Username:   nodeUserPrefix + node,
			Groups:     []string{nodesGroup, authenticatedGroup},
		},
	}
}

func machine(name, node string, nodeRef bool, created time.Time, ip string) *machinev1beta1.Machine {
	m := &machinev1beta1.Machine{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: defaultMachineNamespace, CreationTimestamp: metav1.NewTime(created)},
		Status: machinev1beta1.MachineStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: ip},
			{Type: corev1.NodeInternalDNS, Address: node},
			{Type: corev1.NodeHostName, Address: node},
		}},
	}
	if nodeRef {
		m.Status.NodeRef = &corev1.ObjectReference{Kind: "Node", Name: node}
	}
	return m
}

func node(name string, ready bool, ip string) *corev1.Node {
	// A node that stopped posting: Ready=Unknown and the node controller's
	// unreachable taints.
	status := corev1.ConditionUnknown
	taints := []corev1.Taint{{Key: TaintUnreachable, Effect: corev1.TaintEffectNoSchedule}, {Key: TaintUnreachable, Effect: corev1.TaintEffectNoExecute}}
	if ready {
		status, taints = corev1.ConditionTrue, nil
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: ip},
				{Type: corev1.NodeHostName, Address: name},
			},
		},
	}
}

// fixture: master-0 exists, NotReady (its client certificate expired);
// master-1 exists and is Ready; worker-new is being provisioned (Machine,
// no nodeRef, no Node); a Machine-less node "ghost" exists only as a Node.
func fixtureObjects() (machines []*machinev1beta1.Machine, nodes []*corev1.Node) {
	machines = []*machinev1beta1.Machine{
		machine("cluster-master-0", "master-0", true, t0, "10.0.0.10"),
		machine("cluster-master-1", "master-1", true, t0, "10.0.0.11"),
		machine("cluster-worker-new", "worker-new", false, t0.Add(2*time.Hour), "10.0.0.20"),
	}
	nodes = []*corev1.Node{
		node("master-0", false, "10.0.0.10"),
		node("master-1", true, "10.0.0.11"),
		node("ghost", false, "10.0.0.99"),
	}
	return machines, nodes
}

func fixtureInventory() *inventory {
	ms, ns := fixtureObjects()
	inv := &inventory{MachineAPI: true, Nodes: map[string]*corev1.Node{}}
	for _, m := range ms {
		inv.Machines = append(inv.Machines, *m)
	}
	for _, n := range ns {
		inv.Nodes[n.Name] = n
	}
	return inv
}

// clusterConfig is the Infrastructure and Network config of the fixture
// cluster "cluster.example.com" (OpenShift's default networks).
func clusterConfig() (*configv1.Infrastructure, *configv1.Network) {
	infra := &configv1.Infrastructure{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
		Status: configv1.InfrastructureStatus{
			APIServerURL:         "https://api.cluster.example.com:6443",
			APIServerInternalURL: "https://api-int.cluster.example.com:6443",
			PlatformStatus: &configv1.PlatformStatus{Type: configv1.BareMetalPlatformType, BareMetal: &configv1.BareMetalPlatformStatus{
				APIServerInternalIPs: []string{"10.0.0.5"}, IngressIPs: []string{"10.0.0.6"},
			}},
		},
	}
	network := &configv1.Network{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster"},
		Spec: configv1.NetworkSpec{
			ClusterNetwork: []configv1.ClusterNetworkEntry{{CIDR: "10.128.0.0/14", HostPrefix: 23}},
			ServiceNetwork: []string{"172.30.0.0/16"},
		},
	}
	return infra, network
}

// nodeAddressInventory is the fixture without Machine API, checked against
// Node addresses, with the cluster's config.
func nodeAddressInventory() *inventory {
	inv := fixtureInventory()
	inv.MachineAPI, inv.Machines, inv.UseNodeAddresses = false, nil, true
	inv.Infrastructure, inv.Network = clusterConfig()
	return inv
}
