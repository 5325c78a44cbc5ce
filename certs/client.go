package certs

import (
	"strings"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
)

// validateNodeClient checks a node-bootstrapper client CSR. The node it
// names is the request's own CN, so it is only ever cross-checked against
// objects the requestor cannot write: a Machine's status addresses and
// nodeRef (the machine controllers), and for an existing node the node
// controller's verdict that it stopped reporting.
func validateNodeClient(csr *certv1.CertificateSigningRequest, inv *inventory, v *validation) {
	if csr.Spec.Username != NodeBootstrapperUser {
		v.fail("requestor %q is not the node-bootstrapper (%s)", csr.Spec.Username, NodeBootstrapperUser)
	}
	groups := NodeBootstrapperGroups()
	checkGroups(v, csr.Spec.Groups, groups, groups)
	checkUsages(v, csr.Spec.Usages, clientUsages, "kubelet client")

	req, err := parseRequest(csr)
	if err != nil {
		v.fail("%v", err)
		return
	}
	node, ok := strings.CutPrefix(req.Subject.CommonName, nodeUserPrefix)
	if !ok || node == "" {
		v.fail("subject common name %q is not %s<node>", req.Subject.CommonName, nodeUserPrefix)
	} else {
		v.Node = node
	}
	checkOrganization(v, req)
	if len(req.DNSNames) > 0 {
		v.fail("DNS names %q are not allowed in a client certificate", req.DNSNames)
	}
	if len(req.IPAddresses) > 0 {
		v.fail("IP addresses %v are not allowed in a client certificate", req.IPAddresses)
	}
	if len(req.EmailAddresses) > 0 {
		v.fail("email addresses %q are not allowed in a client certificate", req.EmailAddresses)
	}
	if len(req.URIs) > 0 {
		v.fail("URIs %v are not allowed in a client certificate", req.URIs)
	}
	if v.Node == "" {
		return
	}

	if !inv.MachineAPI {
		if !inv.UseNodeAddresses {
			v.fail("no Machine API: a node-bootstrapper CSR for %s cannot be checked against a Machine", node)
			return
		}
		// Without Machine API only the recovery case can be checked: the
		// Node exists and stopped reporting. A new node cannot.
		switch n := inv.Nodes[node]; {
		case n == nil:
			v.fail("no Machine API and no Node %s: a new node cannot be checked", node)
		default:
			checkStoppedReporting(v, n)
		}
		v.Policy = PolicyExpiredClientCertificate
		return
	}
	var named []*machinev1beta1.Machine
	for i := range inv.Machines {
		m := &inv.Machines[i]
		if machineNamesNode(m, node) {
			named = append(named, m)
		}
	}
	switch len(named) {
	case 0:
		v.fail("no Machine has %s among its status addresses", node)
		return
	case 1:
	default:
		names := make([]string, len(named))
		for i, m := range named {
			names[i] = m.Name
		}
		v.fail("%d Machines name %s in their addresses (%s): ambiguous", len(named), node, strings.Join(names, ", "))
		return
	}
	m := named[0]
	n := inv.Nodes[node]
	switch {
	case m.Status.NodeRef == nil:
		// A new node: it gets its first client certificate.
		if n != nil {
			v.fail("node %s already exists but Machine %s has no nodeRef: not a new node", node, m.Name)
		}
		if csr.CreationTimestamp.Time.Before(m.CreationTimestamp.Add(-machineClockSkew)) {
			v.fail("CSR created %s, before Machine %s (created %s)", csr.CreationTimestamp.UTC().Format(time.RFC3339),
				m.Name, m.CreationTimestamp.UTC().Format(time.RFC3339))
		}
		v.Policy = PolicyNewNode
	case m.Status.NodeRef.Name == node:
		// Runbook 5.4: the node exists and its client certificate expired.
		if n == nil {
			v.fail("Machine %s has nodeRef %s but that Node does not exist", m.Name, node)
		} else {
			checkStoppedReporting(v, n)
		}
		v.Policy = PolicyExpiredClientCertificate
	default:
		v.fail("Machine %s names %s in its addresses but its nodeRef is node %s", m.Name, node, m.Status.NodeRef.Name)
	}
}

func machineNamesNode(m *machinev1beta1.Machine, node string) bool {
	return hasAddress(m.Status.Addresses, node, corev1.NodeInternalDNS, corev1.NodeExternalDNS, corev1.NodeHostName)
}

// TaintUnreachable is the taint the node controller puts on a Node whose
// kubelet stopped posting status; a node cannot set or remove its own
// taints (the NodeRestriction admission plugin, on in OpenShift).
const TaintUnreachable = "node.kubernetes.io/unreachable"

// checkStoppedReporting checks that a Node's kubelet stopped posting
// status, the sign of an expired client certificate (runbook 5.4). The
// Ready condition alone is written by the node's own kubelet, so it is
// cross-checked: Ready must be Unknown (what the node controller sets when
// heartbeats stop; a kubelet that reports Ready=False is posting, so its
// client certificate works) and the node controller's unreachable taint
// must be there.
func checkStoppedReporting(v *validation, n *corev1.Node) {
	var ready *corev1.NodeCondition
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			ready = &n.Status.Conditions[i]
			break
		}
	}
	switch {
	case ready == nil:
		v.fail("node %s has no Ready condition: the node controller has not seen it stop reporting", n.Name)
		return
	case ready.Status == corev1.ConditionTrue:
		v.fail("node %s is Ready: a node whose client certificate works needs no node-bootstrapper certificate", n.Name)
		return
	case ready.Status != corev1.ConditionUnknown:
		v.fail("node %s reports Ready=%s (%s): its kubelet is posting status, so its client certificate works", n.Name, ready.Status, ready.Reason)
		return
	}
	for _, t := range n.Spec.Taints {
		if t.Key == TaintUnreachable {
			return
		}
	}
	v.fail("node %s is Ready=Unknown without the node controller's %s taint: its Ready condition alone is written by the node itself", n.Name, TaintUnreachable)
}
