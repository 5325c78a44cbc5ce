package certs

import (
	"strings"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

// validateKubeletServing checks a kubelet serving CSR. The requestor
// (spec.username, set by the API server) names the node; every DNS and IP
// subject alternative name must be an address of that node's Machine
// (written by the machine controller) or, with UseNodeAddresses and no
// Machine API, of its Node. A Node's addresses are written by the node's
// own kubelet, so in that mode each name must also pass the cross-checks
// of Rule: not an in-cluster identity (Infrastructure and Network config),
// not reported by another Node, not special. This is the part of
// cluster-machine-approver's serving check that needs no Machine; it
// renews a Machine-less node's certificate only from the node's current
// serving certificate, which lifeboat does not read.
func validateKubeletServing(csr *certv1.CertificateSigningRequest, inv *inventory, v *validation) {
	node, ok := strings.CutPrefix(csr.Spec.Username, nodeUserPrefix)
	if !ok || node == "" {
		v.fail("requestor %q is not a node (%s<node>)", csr.Spec.Username, nodeUserPrefix)
	} else {
		v.Node = node
	}
	checkGroups(v, csr.Spec.Groups, []string{nodesGroup, authenticatedGroup}, []string{nodesGroup})
	checkUsages(v, csr.Spec.Usages, servingUsages, "kubelet serving")

	req, err := parseRequest(csr)
	if err != nil {
		v.fail("%v", err)
		return
	}
	if req.Subject.CommonName != csr.Spec.Username {
		v.fail("subject common name %q does not match the requestor %q", req.Subject.CommonName, csr.Spec.Username)
	}
	checkOrganization(v, req)
	if len(req.DNSNames) == 0 && len(req.IPAddresses) == 0 {
		v.fail("no DNS name or IP address: a serving certificate must name its node")
	}
	if len(req.EmailAddresses) > 0 {
		v.fail("email addresses %q are not allowed in a serving certificate", req.EmailAddresses)
	}
	if len(req.URIs) > 0 {
		v.fail("URIs %v are not allowed in a serving certificate", req.URIs)
	}
	if v.Node == "" {
		return
	}

	var addrs []corev1.NodeAddress
	var owner string
	switch {
	case inv.MachineAPI:
		var m *machinev1beta1.Machine
		for i := range inv.Machines {
			if ref := inv.Machines[i].Status.NodeRef; ref != nil && ref.Name == node {
				if m != nil {
					v.fail("Machines %s and %s both have nodeRef %s: ambiguous", m.Name, inv.Machines[i].Name, node)
					return
				}
				m = &inv.Machines[i]
			}
		}
		if m == nil {
			v.fail("no Machine has nodeRef %s", node)
			return
		}
		addrs, owner = m.Status.Addresses, "Machine "+m.Name
		v.Policy = PolicyKubeletServing
	case inv.UseNodeAddresses:
		n := inv.Nodes[node]
		if n == nil {
			v.fail("node %s does not exist", node)
			return
		}
		id, idx, err := inv.crossChecks()
		if err != nil {
			v.refuse(RuleClusterIdentitiesUnknown, "the in-cluster names and addresses cannot be known (%v): no name is approved from the self-reported addresses of node %s", err, node)
			return
		}
		for _, name := range req.DNSNames {
			if rule, why := id.refuseName(name, node, idx); rule != "" {
				v.refuse(rule, "DNS name %q %s", name, why)
			}
		}
		for _, ip := range req.IPAddresses {
			if rule, why := id.refuseIP(ip, node, idx); rule != "" {
				v.refuse(rule, "IP address %s %s", ip, why)
			}
		}
		addrs, owner = n.Status.Addresses, "Node "+node
		v.Policy = PolicyKubeletServingNodeAddresses
	default:
		v.fail("no Machine API and node addresses not allowed: the names of %s cannot be checked", node)
		return
	}
	for _, name := range req.DNSNames {
		if !hasAddress(addrs, name, corev1.NodeInternalDNS, corev1.NodeExternalDNS, corev1.NodeHostName) {
			v.fail("DNS name %q is not an address of %s (node %s)", name, owner, node)
		}
	}
	for _, ip := range req.IPAddresses {
		if !hasIP(addrs, ip) {
			v.fail("IP address %s is not an address of %s (node %s)", ip, owner, node)
		}
	}
}
