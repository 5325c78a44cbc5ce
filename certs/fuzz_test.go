package certs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Issue 10 fault 7 (CSR part): no request bytes and no API object may
// crash the caller. The seed corpus in testdata/fuzz/<FuzzName> runs as an
// ordinary test; "go test -run '^$' -fuzz FuzzX -fuzztime 3m ./certs" runs
// a fuzzer.

// FuzzParseRequest feeds arbitrary bytes to parseRequest: it returns a
// request whose signature checked, or an error wrapping
// ErrMalformedRequest, and never panics.
func FuzzParseRequest(f *testing.F) {
	f.Add(pemRequest(f, req{cn: nodeUserPrefix + "master-0", org: []string{nodesGroup}, dns: []string{"master-0"}, ips: []string{"10.0.0.10"}}))
	f.Add(pemRequest(f, req{cn: nodeUserPrefix + "master-0", org: []string{nodesGroup}, rsa: true}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		csr := &certv1.CertificateSigningRequest{Spec: certv1.CertificateSigningRequestSpec{Request: data}}
		r, err := parseRequest(csr)
		switch {
		case err != nil && !errors.Is(err, ErrMalformedRequest):
			t.Fatalf("error %v does not wrap ErrMalformedRequest", err)
		case err != nil && r != nil:
			t.Fatalf("request and error %v", err)
		case err == nil && r == nil:
			t.Fatal("no request and no error")
		case err == nil:
			if cerr := r.CheckSignature(); cerr != nil {
				t.Fatalf("accepted a request whose signature does not check: %v", cerr)
			}
		}
	})
}

// FuzzValidate feeds an arbitrary request, signer, requestor, usages and
// arbitrary JSON for a Node, a Machine and the Infrastructure and Network
// config to Validate in each mode (Machine API, Node addresses, neither).
// It never panics; a CSR passes only with a policy and no reason, and
// never with a name of the kubernetes service or a wildcard.
func FuzzValidate(f *testing.F) {
	infra, network := clusterConfig()
	infraJSON, _ := json.Marshal(infra)
	networkJSON, _ := json.Marshal(network)
	m := machine("cluster-master-0", "master-0", true, t0, "10.0.0.10")
	machineJSON, _ := json.Marshal(m)
	n := node("master-0", true, "10.0.0.10")
	nodeJSON, _ := json.Marshal(n)
	notReady, _ := json.Marshal(node("master-0", false, "10.0.0.10"))
	serving := pemRequest(f, req{cn: nodeUserPrefix + "master-0", org: []string{nodesGroup}, dns: []string{"master-0"}, ips: []string{"10.0.0.10"}})
	client := pemRequest(f, req{cn: nodeUserPrefix + "master-0", org: []string{nodesGroup}})
	servingUsages := "digital signature,key encipherment,server auth"
	clientUsages := "digital signature,key encipherment,client auth"
	f.Add(serving, certv1.KubeletServingSignerName, nodeUserPrefix+"master-0", servingUsages, nodeJSON, machineJSON, infraJSON, networkJSON)
	f.Add(client, certv1.KubeAPIServerClientKubeletSignerName, NodeBootstrapperUser, clientUsages, notReady, machineJSON, infraJSON, networkJSON)
	f.Add(serving, certv1.KubeletServingSignerName, nodeUserPrefix+"master-0", servingUsages, []byte(`{"metadata":{"name":"master-0"},"status":{"addresses":[{"type":"Hostname","address":"kubernetes"}]}}`),
		[]byte(`{}`), []byte(`{"status":{"apiServerURL":"::"}}`), []byte(`{"spec":{"serviceNetwork":["172.30.0.0/16"],"clusterNetwork":[{"cidr":"x"}]}}`))
	f.Add([]byte("not pem"), "example.com/x", "", "", []byte("null"), []byte("null"), []byte("null"), []byte("null"))

	f.Fuzz(func(t *testing.T, request []byte, signer, username, usages string, nodeJSON, machineJSON, infraJSON, networkJSON []byte) {
		csr := &certv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: "fuzz", CreationTimestamp: metav1.NewTime(t0.Add(time.Hour))},
			Spec: certv1.CertificateSigningRequestSpec{
				Request: request, SignerName: signer, Username: username,
				Groups: []string{nodesGroup, authenticatedGroup},
			},
		}
		if strings.HasPrefix(username, "system:serviceaccount:") {
			csr.Spec.Groups = NodeBootstrapperGroups()
		}
		for _, u := range strings.Split(usages, ",") {
			csr.Spec.Usages = append(csr.Spec.Usages, certv1.KeyUsage(u))
		}
		// Undecodable JSON leaves an object partly filled or empty, as a
		// corrupt API object would be.
		var n corev1.Node
		_ = json.Unmarshal(nodeJSON, &n)
		var m machinev1beta1.Machine
		_ = json.Unmarshal(machineJSON, &m)
		var infra *configv1.Infrastructure
		_ = json.Unmarshal(infraJSON, &infra)
		var network *configv1.Network
		_ = json.Unmarshal(networkJSON, &network)

		peer := node("peer", true, "10.0.0.50")
		for _, mode := range []string{"machine-api", "node-addresses", "none"} {
			inv := &inventory{Nodes: map[string]*corev1.Node{n.Name: &n, "peer": peer, "nil-node": nil}, Infrastructure: infra, Network: network}
			switch mode {
			case "machine-api":
				inv.MachineAPI, inv.Machines = true, []machinev1beta1.Machine{m, {}}
			case "node-addresses":
				inv.UseNodeAddresses = true
			}
			v := validate(csr, inv)
			if v.Valid() != (v.Policy != "") || (v.Valid() && len(v.Reasons) != 0) {
				t.Fatalf("%s: policy %q with reasons %q", mode, v.Policy, v.Reasons)
			}
			if !v.Valid() || v.Kind != KindKubeletServing || mode != "node-addresses" {
				continue
			}
			r, err := parseRequest(csr)
			if err != nil {
				t.Fatalf("%s: passed but ParseRequest fails: %v", mode, err)
			}
			for _, d := range r.DNSNames {
				switch nd := normalizeName(d); {
				case nd == "kubernetes", nd == "kubernetes.default", nd == "kubernetes.default.svc",
					nd == "kubernetes.default.svc.cluster.local", strings.Contains(nd, "*"):
					t.Fatalf("%s: approved DNS name %q", mode, d)
				}
			}
			for _, ip := range r.IPAddresses {
				if ip.IsLoopback() || ip.IsLinkLocalUnicast() {
					t.Fatalf("%s: approved IP %s", mode, ip)
				}
			}
		}
	})
}
