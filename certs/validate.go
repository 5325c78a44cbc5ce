package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

// Names the cluster uses for the kubelet's certificates.
const (
	// NodeBootstrapperUser is the requestor of a node's first (or, after
	// section 5.4, renewed) client certificate.
	NodeBootstrapperUser = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper"
	// nodeUserPrefix prefixes a node's user name and certificate CN.
	nodeUserPrefix = "system:node:"
	// nodesGroup is the group of every node and the only organisation a
	// kubelet certificate carries.
	nodesGroup = "system:nodes"
	// authenticatedGroup is added by the API server to every authenticated user.
	authenticatedGroup = "system:authenticated"
	// defaultMachineNamespace is where the Machine API keeps Machines.
	defaultMachineNamespace = names.MachineAPINamespace
	// machineClockSkew is how much older than its Machine a new node's CSR
	// may look, to allow for clocks that disagree.
	machineClockSkew = 10 * time.Second
)

// NodeBootstrapperGroups returns exactly the groups the node-bootstrapper
// service account authenticates with (a new slice on each call).
func NodeBootstrapperGroups() []string {
	return []string{
		authenticatedGroup,
		"system:serviceaccounts",
		"system:serviceaccounts:openshift-machine-config-operator",
	}
}

// ErrMalformedRequest is wrapped by parseRequest when a CSR's spec.request is
// not one PEM "CERTIFICATE REQUEST" block holding a valid, self-signed
// PKCS#10 request.
var ErrMalformedRequest = errors.New("malformed certificate request")

// Kind says which kind of certificate a CSR asks for, from its signer.
type Kind string

const (
	// KindNodeClient is a kubelet client certificate
	// (kubernetes.io/kube-apiserver-client-kubelet), filed by the
	// node-bootstrapper for a new node or one whose certificate expired.
	KindNodeClient Kind = "node-client"
	// KindKubeletServing is a kubelet serving certificate
	// (kubernetes.io/kubelet-serving), filed by the node itself.
	KindKubeletServing Kind = "kubelet-serving"
	// KindOther is any other signer; lifeboat never approves it.
	KindOther Kind = "other"
)

// Policy names the rule that allowed a CSR.
type Policy string

const (
	// PolicyNewNode: a node-bootstrapper client CSR for a node whose Machine
	// has no nodeRef yet, filed after the Machine was created.
	PolicyNewNode Policy = "new-node"
	// PolicyExpiredClientCertificate: a node-bootstrapper client CSR for a
	// node that exists, is the nodeRef of its Machine, and is not Ready
	// because its client certificate expired (runbook 5.4).
	PolicyExpiredClientCertificate Policy = "expired-client-certificate"
	// PolicyKubeletServing: a serving CSR whose names are all addresses of
	// the node's Machine.
	PolicyKubeletServing Policy = "kubelet-serving"
	// PolicyKubeletServingNodeAddresses: as PolicyKubeletServing, checked
	// against the Node's own addresses because there is no Machine API.
	PolicyKubeletServingNodeAddresses Policy = "kubelet-serving-node-addresses"
)

// conditionReason is the reason written in the Approved condition.
func (p Policy) conditionReason() string {
	switch p {
	case PolicyNewNode:
		return "LifeboatNodeBootstrapper"
	case PolicyExpiredClientCertificate:
		return "LifeboatExpiredClientCertificate"
	case PolicyKubeletServing:
		return "LifeboatKubeletServing"
	case PolicyKubeletServingNodeAddresses:
		return "LifeboatKubeletServingNodeAddresses"
	}
	return "Lifeboat"
}

// inventory is what a CSR is checked against: the cluster's Machines and
// Nodes, read once per review.
type inventory struct {
	// MachineAPI is false when the cluster has no Machine API (or the
	// caller passed none); then Machines is ignored.
	MachineAPI bool
	Machines   []machinev1beta1.Machine
	// Nodes by name.
	Nodes map[string]*corev1.Node
	// UseNodeAddresses allows, when MachineAPI is false (user-provisioned
	// clusters), checking CSRs against the Nodes: a serving CSR's names
	// against the Node's own status addresses, and a node-bootstrapper CSR
	// only for a Node that exists and is not Ready
	// (PolicyExpiredClientCertificate; a new node is never approved this
	// way). Node addresses are reported by the kubelet itself, so a
	// serving CSR's names must also pass the cross-checks of Rule, which
	// need Infrastructure and Network.
	UseNodeAddresses bool
	// Infrastructure and Network are the cluster's config objects named
	// "cluster" (config.openshift.io/v1): the API server's names and the
	// service and pod networks. With UseNodeAddresses and no Machine API a
	// serving CSR is refused (RuleClusterIdentitiesUnknown) when either is
	// nil or unusable.
	Infrastructure *configv1.Infrastructure
	Network        *configv1.Network

	once  sync.Once
	ids   *identities
	idErr error
	index *nodeIndex
}

// crossChecks derives, once per Inventory, the in-cluster identities and
// the index of Node addresses. Do not change the Inventory's Nodes,
// Infrastructure or Network after the first Validate.
func (inv *inventory) crossChecks() (*identities, *nodeIndex, error) {
	inv.once.Do(func() {
		inv.ids, inv.idErr = clusterIdentities(inv.Infrastructure, inv.Network)
		inv.index = newNodeIndex(inv.Nodes)
	})
	return inv.ids, inv.index, inv.idErr
}

// validation is the outcome of checking one CSR.
type validation struct {
	Kind Kind
	// Node is the node the CSR is for, when it names one.
	Node string
	// Policy is the rule that allows the CSR; empty when Reasons is not.
	Policy Policy
	// Reasons lists every check the CSR failed.
	Reasons []string
	// Rules lists, once each, the cross-check rules that refused a name or
	// address (a subset of what Reasons says, for callers that branch).
	Rules []Rule
}

// Valid reports whether the CSR passed every check.
func (v validation) Valid() bool { return len(v.Reasons) == 0 && v.Policy != "" }

func (v *validation) fail(format string, args ...any) {
	v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...))
}

// refuse records a failure by a cross-check rule; the reason starts with
// "refused by rule <rule>: ".
func (v *validation) refuse(r Rule, format string, args ...any) {
	v.fail("refused by rule %s: %s", r, fmt.Sprintf(format, args...))
	if !slices.Contains(v.Rules, r) {
		v.Rules = append(v.Rules, r)
	}
}

// kindOf classifies a CSR by its signer.
func kindOf(csr *certv1.CertificateSigningRequest) Kind {
	switch csr.Spec.SignerName {
	case certv1.KubeAPIServerClientKubeletSignerName:
		return KindNodeClient
	case certv1.KubeletServingSignerName:
		return KindKubeletServing
	}
	return KindOther
}

// maxRequestBytes bounds a CSR's spec.request: a kubelet's request is
// under 2 KiB; a larger one is refused before it is parsed (or its
// signature checked with a key of any size).
const maxRequestBytes = 64 << 10

// parseRequest decodes the PKCS#10 request of a CSR and checks its
// signature. Errors wrap ErrMalformedRequest; a panic of the decoder on a
// corrupt request is contained and reported as ErrMalformedRequest too.
func parseRequest(csr *certv1.CertificateSigningRequest) (req *x509.CertificateRequest, err error) {
	if csr == nil {
		return nil, fmt.Errorf("%w: no CSR", ErrMalformedRequest)
	}
	if n := len(csr.Spec.Request); n > maxRequestBytes {
		return nil, fmt.Errorf("%w: request is %d bytes, more than %d", ErrMalformedRequest, n, maxRequestBytes)
	}
	defer func() {
		if r := recover(); r != nil {
			req, err = nil, fmt.Errorf("%w: decoder failed: %v", ErrMalformedRequest, r)
		}
	}()
	block, rest := pem.Decode(csr.Spec.Request)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrMalformedRequest)
	}
	if block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("%w: PEM block is %q, not CERTIFICATE REQUEST", ErrMalformedRequest, block.Type)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%w: data after the PEM block", ErrMalformedRequest)
	}
	req, err = x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedRequest, err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformedRequest, err)
	}
	return req, nil
}

// validate checks a CSR against the policies of its kind and returns every
// reason it fails. It does not look at whether the CSR is pending, except
// that a Denied or Failed CSR always fails.
func validate(csr *certv1.CertificateSigningRequest, inv *inventory) validation {
	if inv == nil {
		inv = &inventory{}
	}
	if csr == nil {
		return validation{Kind: KindOther, Reasons: []string{"no CSR"}}
	}
	v := validation{Kind: kindOf(csr)}
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certv1.CertificateDenied, certv1.CertificateFailed:
			v.fail("CSR is already %s (%s); a %s CSR is never approved", c.Type, c.Reason, c.Type)
		}
	}
	switch v.Kind {
	case KindNodeClient:
		validateNodeClient(csr, inv, &v)
	case KindKubeletServing:
		validateKubeletServing(csr, inv, &v)
	default:
		v.fail("signer %q is not a kubelet signer: lifeboat never approves it", csr.Spec.SignerName)
	}
	if len(v.Reasons) != 0 {
		v.Policy = ""
	}
	return v
}

var (
	clientUsages = [][]certv1.KeyUsage{
		{certv1.UsageDigitalSignature, certv1.UsageClientAuth},
		// Kubelets of OpenShift 4.5 (Kubernetes 1.18) always add key
		// encipherment, whatever their key type; cluster-machine-approver
		// and kube-controller-manager accept both sets.
		{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth},
	}
	servingUsages = [][]certv1.KeyUsage{
		{certv1.UsageDigitalSignature, certv1.UsageServerAuth},
		{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageServerAuth},
	}
)

// checkUsages reports the usages that are not allowed and, when none is
// extra, the ones missing from the smallest allowed set.
func checkUsages(v *validation, got []certv1.KeyUsage, allowed [][]certv1.KeyUsage, what string) {
	gotSet := map[certv1.KeyUsage]bool{}
	for _, u := range got {
		gotSet[u] = true
	}
	for _, set := range allowed {
		if len(set) == len(got) && len(gotSet) == len(got) {
			ok := true
			for _, u := range set {
				ok = ok && gotSet[u]
			}
			if ok {
				return
			}
		}
	}
	union := map[certv1.KeyUsage]bool{}
	for _, set := range allowed {
		for _, u := range set {
			union[u] = true
		}
	}
	var extra, missing []string
	for u := range gotSet {
		if !union[u] {
			extra = append(extra, string(u))
		}
	}
	for _, u := range allowed[0] {
		if !gotSet[u] {
			missing = append(missing, string(u))
		}
	}
	sort.Strings(extra)
	var want []string
	for _, set := range allowed {
		want = append(want, "["+joinUsages(set)+"]")
	}
	msg := fmt.Sprintf("usages [%s] are not the %s set (%s)", joinUsages(got), what, strings.Join(want, " or "))
	if len(extra) > 0 {
		msg += "; not allowed: " + strings.Join(extra, ", ")
	}
	if len(missing) > 0 {
		msg += "; missing: " + strings.Join(missing, ", ")
	}
	if len(gotSet) != len(got) {
		msg += "; repeated usages"
	}
	v.fail("%s", msg)
}

func joinUsages(us []certv1.KeyUsage) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = string(u)
	}
	return strings.Join(s, ", ")
}

// checkOrganization checks that O is exactly system:nodes.
func checkOrganization(v *validation, req *x509.CertificateRequest) {
	if !slices.Equal(req.Subject.Organization, []string{nodesGroup}) {
		v.fail("subject organization %q is not exactly [%q]", req.Subject.Organization, nodesGroup)
	}
}

// checkGroups reports groups missing from required and groups not in allowed.
func checkGroups(v *validation, got, allowed, required []string) {
	var missing, extra []string
	for _, g := range required {
		if !slices.Contains(got, g) {
			missing = append(missing, g)
		}
	}
	for _, g := range got {
		if !slices.Contains(allowed, g) {
			extra = append(extra, g)
		}
	}
	if len(missing) > 0 {
		v.fail("requestor groups %q lack %q", got, missing)
	}
	if len(extra) > 0 {
		v.fail("requestor groups %q include unexpected %q", got, extra)
	}
}

func hasAddress(addrs []corev1.NodeAddress, name string, types ...corev1.NodeAddressType) bool {
	for _, a := range addrs {
		if slices.Contains(types, a.Type) && strings.EqualFold(strings.TrimSuffix(a.Address, "."), strings.TrimSuffix(name, ".")) {
			return true
		}
	}
	return false
}

func hasIP(addrs []corev1.NodeAddress, ip net.IP) bool {
	for _, a := range addrs {
		if a.Type != corev1.NodeInternalIP && a.Type != corev1.NodeExternalIP {
			continue
		}
		if parsed := net.ParseIP(a.Address); parsed != nil && parsed.Equal(ip) {
			return true
		}
	}
	return false
}
