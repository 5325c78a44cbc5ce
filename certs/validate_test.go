package certs

import (
	"errors"
	"strings"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
)

func TestValidate(t *testing.T) {
	newCSRTime := t0.Add(3 * time.Hour) // after the worker-new Machine
	tests := []struct {
		name string
		csr  func(t *testing.T) *certv1.CertificateSigningRequest
		inv  func() *inventory
		// wantPolicy is set when the CSR must pass.
		wantPolicy Policy
		wantNode   string
		// wantReasons must each be a substring of one of the reasons, and
		// there must be exactly len(wantReasons) reasons.
		wantReasons []string
	}{
		{
			name: "new node client CSR",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				return clientCSR(t, "c", "worker-new", newCSRTime)
			},
			wantPolicy: PolicyNewNode, wantNode: "worker-new",
		},
		{
			name: "new node client CSR without key encipherment",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.Usages = []certv1.KeyUsage{certv1.UsageClientAuth, certv1.UsageDigitalSignature}
				return c
			},
			wantPolicy: PolicyNewNode, wantNode: "worker-new",
		},
		{
			name:       "expired client certificate of an existing NotReady node (5.4)",
			csr:        func(t *testing.T) *certv1.CertificateSigningRequest { return clientCSR(t, "c", "master-0", newCSRTime) },
			wantPolicy: PolicyExpiredClientCertificate, wantNode: "master-0",
		},
		{
			name: "serving CSR naming only its own machine's addresses",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				return servingCSR(t, "s", "master-0", []string{"master-0"}, []string{"10.0.0.10"})
			},
			wantPolicy: PolicyKubeletServing, wantNode: "master-0",
		},
		{
			name: "serving CSR checked against node addresses without machine API",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				return servingCSR(t, "s", "ghost", []string{"ghost"}, []string{"10.0.0.99"})
			},
			inv:        nodeAddressInventory,
			wantPolicy: PolicyKubeletServingNodeAddresses, wantNode: "ghost",
		},
		{
			name: "expired client certificate without machine API, checked against the Node",
			csr:  func(t *testing.T) *certv1.CertificateSigningRequest { return clientCSR(t, "c", "ghost", newCSRTime) },
			inv: func() *inventory {
				inv := fixtureInventory()
				inv.MachineAPI, inv.Machines, inv.UseNodeAddresses = false, nil, true
				return inv
			},
			wantPolicy: PolicyExpiredClientCertificate, wantNode: "ghost",
		},
		{
			name: "new node without machine API is never approved",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				return clientCSR(t, "c", "worker-new", newCSRTime)
			},
			inv: func() *inventory {
				inv := fixtureInventory()
				inv.MachineAPI, inv.Machines, inv.UseNodeAddresses = false, nil, true
				return inv
			},
			wantNode:    "worker-new",
			wantReasons: []string{"no Machine API and no Node worker-new"},
		},
		{
			name: "client CSR without machine API and without node addresses allowed",
			csr:  func(t *testing.T) *certv1.CertificateSigningRequest { return clientCSR(t, "c", "master-0", newCSRTime) },
			inv: func() *inventory {
				inv := fixtureInventory()
				inv.MachineAPI, inv.Machines = false, nil
				return inv
			},
			wantNode:    "master-0",
			wantReasons: []string{"no Machine API: a node-bootstrapper CSR for master-0 cannot be checked"},
		},
		// Adversarial cases: none may pass, each must say why.
		{
			name: "serving CSR whose SANs name the API server",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				return servingCSR(t, "s", "master-0", []string{"master-0", "api-int.cluster.example.com", "api.cluster.example.com"}, []string{"10.0.0.10"})
			},
			wantNode:    "master-0",
			wantReasons: []string{`DNS name "api-int.cluster.example.com" is not an address of Machine cluster-master-0`, `DNS name "api.cluster.example.com" is not an address`},
		},
		{
			name: "serving CSR whose SANs name another node",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				return servingCSR(t, "s", "master-0", []string{"master-1"}, []string{"10.0.0.11"})
			},
			wantNode:    "master-0",
			wantReasons: []string{`DNS name "master-1" is not an address of Machine cluster-master-0`, `IP address 10.0.0.11 is not an address of Machine cluster-master-0`},
		},
		{
			name: "client CSR from the wrong requestor",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "master-0", newCSRTime)
				c.Spec.Username = "system:serviceaccount:default:builder"
				return c
			},
			wantNode:    "master-0",
			wantReasons: []string{`requestor "system:serviceaccount:default:builder" is not the node-bootstrapper`},
		},
		{
			name: "client CSR from the node itself (a renewal kube-controller-manager handles)",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "master-0", newCSRTime)
				c.Spec.Username, c.Spec.Groups = nodeUserPrefix+"master-0", []string{nodesGroup, authenticatedGroup}
				return c
			},
			wantNode: "master-0",
			wantReasons: []string{`is not the node-bootstrapper`,
				`lack ["system:serviceaccounts" "system:serviceaccounts:openshift-machine-config-operator"]`,
				`include unexpected ["system:nodes"]`},
		},
		{
			name: "client CSR with an extra group",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.Groups = append(c.Spec.Groups, "system:masters")
				return c
			},
			wantNode:    "worker-new",
			wantReasons: []string{`include unexpected ["system:masters"]`},
		},
		{
			name: "client CSR with extra usages",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.Usages = append(c.Spec.Usages, certv1.UsageServerAuth, certv1.UsageCodeSigning)
				return c
			},
			wantNode:    "worker-new",
			wantReasons: []string{`not allowed: code signing, server auth`},
		},
		{
			name: "serving CSR with extra usages",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := servingCSR(t, "s", "master-0", []string{"master-0"}, nil)
				c.Spec.Usages = append(c.Spec.Usages, certv1.UsageClientAuth)
				return c
			},
			wantNode:    "master-0",
			wantReasons: []string{`not allowed: client auth`},
		},
		{
			name: "serving CSR whose CN does not match the requestor",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := servingCSR(t, "s", "master-0", []string{"master-0"}, nil)
				c.Spec.Request = pemRequest(t, req{cn: "system:node:master-1", org: []string{nodesGroup}, dns: []string{"master-0"}})
				return c
			},
			wantNode:    "master-0",
			wantReasons: []string{`subject common name "system:node:master-1" does not match the requestor "system:node:master-0"`},
		},
		{
			name: "client CSR whose CN is not a node",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.Request = pemRequest(t, req{cn: "system:admin", org: []string{nodesGroup}})
				return c
			},
			wantReasons: []string{`subject common name "system:admin" is not system:node:<node>`},
		},
		{
			name: "client CSR whose O has a second organisation",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.Request = pemRequest(t, req{cn: "system:node:worker-new", org: []string{nodesGroup, "system:masters"}})
				return c
			},
			wantNode:    "worker-new",
			wantReasons: []string{`subject organization ["system:nodes" "system:masters"] is not exactly ["system:nodes"]`},
		},
		{
			name: "client CSR with SANs of every kind",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.Request = pemRequest(t, req{cn: "system:node:worker-new", org: []string{nodesGroup},
					dns: []string{"worker-new"}, ips: []string{"10.0.0.20"}, emails: []string{"a@example.com"}, uris: []string{"spiffe://x/y"}})
				return c
			},
			wantNode: "worker-new",
			wantReasons: []string{`DNS names ["worker-new"] are not allowed`, `IP addresses [10.0.0.20] are not allowed`,
				`email addresses ["a@example.com"] are not allowed`, `URIs [spiffe://x/y] are not allowed`},
		},
		{
			name: "unknown signer",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.SignerName = certv1.KubeAPIServerClientSignerName
				return c
			},
			wantReasons: []string{`signer "kubernetes.io/kube-apiserver-client" is not a kubelet signer: lifeboat never approves it`},
		},
		{
			name:        "client CSR for a node with no Machine",
			csr:         func(t *testing.T) *certv1.CertificateSigningRequest { return clientCSR(t, "c", "ghost", newCSRTime) },
			wantNode:    "ghost",
			wantReasons: []string{`no Machine has ghost among its status addresses`},
		},
		{
			name: "serving CSR for a node with no Machine",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				return servingCSR(t, "s", "ghost", []string{"ghost"}, nil)
			},
			wantNode:    "ghost",
			wantReasons: []string{`no Machine has nodeRef ghost`},
		},
		{
			name: "already Denied CSR",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Status.Conditions = []certv1.CertificateSigningRequestCondition{{Type: certv1.CertificateDenied, Status: "True", Reason: "AdminSaidNo"}}
				return c
			},
			wantNode:    "worker-new",
			wantReasons: []string{`CSR is already Denied (AdminSaidNo)`},
		},
		{
			name: "malformed PEM",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.Request = []byte("-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgcmVxdWVzdA==\n-----END CERTIFICATE REQUEST-----\n")
				return c
			},
			wantReasons: []string{`malformed certificate request`},
		},
		{
			name: "not PEM at all",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := servingCSR(t, "s", "master-0", []string{"master-0"}, nil)
				c.Spec.Request = []byte("hello")
				return c
			},
			wantNode:    "master-0",
			wantReasons: []string{`malformed certificate request: no PEM block`},
		},
		{
			name:        "client CSR older than its new Machine",
			csr:         func(t *testing.T) *certv1.CertificateSigningRequest { return clientCSR(t, "c", "worker-new", t0) },
			wantNode:    "worker-new",
			wantReasons: []string{`before Machine cluster-worker-new`},
		},
		{
			name:        "client CSR for a Ready node",
			csr:         func(t *testing.T) *certv1.CertificateSigningRequest { return clientCSR(t, "c", "master-1", newCSRTime) },
			wantNode:    "master-1",
			wantReasons: []string{`node master-1 is Ready`},
		},
		{
			name: "serving CSR with an extra group and no names",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := servingCSR(t, "s", "master-0", nil, nil)
				c.Spec.Groups = append(c.Spec.Groups, "system:masters")
				return c
			},
			wantNode:    "master-0",
			wantReasons: []string{`include unexpected ["system:masters"]`, `no DNS name or IP address`},
		},
		{
			name: "every fault at once is reported, not only the first",
			csr: func(t *testing.T) *certv1.CertificateSigningRequest {
				c := clientCSR(t, "c", "worker-new", newCSRTime)
				c.Spec.Username = "mallory"
				c.Spec.Groups = append(c.Spec.Groups, "system:masters")
				c.Spec.Usages = append(c.Spec.Usages, certv1.UsageServerAuth)
				c.Spec.Request = pemRequest(t, req{cn: "system:node:worker-new", org: []string{nodesGroup, "x"}, dns: []string{"evil"}})
				c.Status.Conditions = []certv1.CertificateSigningRequestCondition{{Type: certv1.CertificateFailed, Status: "True", Reason: "SignerFailed"}}
				return c
			},
			wantNode: "worker-new",
			wantReasons: []string{`already Failed`, `requestor "mallory"`, `include unexpected ["system:masters"]`,
				`not allowed: server auth`, `subject organization`, `DNS names ["evil"]`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := fixtureInventory()
			if tc.inv != nil {
				inv = tc.inv()
			}
			v := validate(tc.csr(t), inv)
			if v.Node != tc.wantNode {
				t.Errorf("Node = %q, want %q", v.Node, tc.wantNode)
			}
			if tc.wantPolicy != "" {
				if !v.Valid() || v.Policy != tc.wantPolicy {
					t.Fatalf("got policy %q valid=%v reasons %q, want policy %q", v.Policy, v.Valid(), v.Reasons, tc.wantPolicy)
				}
				return
			}
			if v.Valid() || v.Policy != "" {
				t.Fatalf("CSR passed (policy %q), want it refused", v.Policy)
			}
			if len(v.Reasons) != len(tc.wantReasons) {
				t.Errorf("got %d reasons %q, want %d", len(v.Reasons), v.Reasons, len(tc.wantReasons))
			}
			for _, want := range tc.wantReasons {
				found := false
				for _, r := range v.Reasons {
					found = found || strings.Contains(r, want)
				}
				if !found {
					t.Errorf("no reason contains %q; reasons: %q", want, v.Reasons)
				}
			}
		})
	}
}

func TestParseRequestMalformed(t *testing.T) {
	good := clientCSR(t, "c", "n", t0)
	tests := []struct {
		name    string
		request []byte
	}{
		{"empty", nil},
		{"wrong block type", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")},
		{"trailing data", append(append([]byte(nil), good.Spec.Request...), []byte("junk")...)},
		{"tampered signature", func() []byte {
			b := append([]byte(nil), good.Spec.Request...)
			// flip a character inside the base64 body, near the end
			i := len(b) - 40
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return b
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good.DeepCopy()
			c.Spec.Request = tc.request
			if _, err := parseRequest(c); !errors.Is(err, ErrMalformedRequest) {
				t.Fatalf("ParseRequest error = %v, want ErrMalformedRequest", err)
			}
		})
	}
	if _, err := parseRequest(good); err != nil {
		t.Fatalf("good request: %v", err)
	}
}

func TestValidateRSAKeyEncipherment(t *testing.T) {
	c := clientCSR(t, "c", "worker-new", t0.Add(3*time.Hour))
	c.Spec.Request = pemRequest(t, req{cn: "system:node:worker-new", org: []string{nodesGroup}, rsa: true})
	if v := validate(c, fixtureInventory()); !v.Valid() {
		t.Fatalf("RSA client CSR with key encipherment refused: %q", v.Reasons)
	}
}
