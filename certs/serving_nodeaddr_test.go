package certs

import (
	"slices"
	"strings"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	corev1 "k8s.io/api/core/v1"
)

// Issue 11 fault 2: without Machine API a serving CSR is checked against
// the Node's own status addresses, which the node's kubelet writes. Node
// "ghost" reports every name below among its own addresses, so only the
// cross-checks can refuse them; each case names the rule that must.
func TestValidateServingNodeAddressRules(t *testing.T) {
	tests := []struct {
		name     string
		dns, ips []string
		inv      func(*inventory)
		want     Rule // "" when the CSR must pass
	}{
		{name: "legitimate: own hostname and IP", dns: []string{"ghost"}, ips: []string{"10.0.0.99"}},
		{name: "kubernetes", dns: []string{"kubernetes"}, want: RuleKubernetesServiceName},
		{name: "kubernetes.default", dns: []string{"kubernetes.default"}, want: RuleKubernetesServiceName},
		{name: "kubernetes.default.svc", dns: []string{"kubernetes.default.svc"}, want: RuleKubernetesServiceName},
		{name: "kubernetes.default.svc.cluster.local", dns: []string{"Kubernetes.Default.Svc.Cluster.Local."}, want: RuleKubernetesServiceName},
		{name: "service IP 172.30.0.1", ips: []string{"172.30.0.1"}, want: RuleKubernetesServiceIP},
		{name: "another service's cluster IP", ips: []string{"172.30.12.7"}, want: RuleServiceNetwork},
		{name: "pod IP", ips: []string{"10.128.2.4"}, want: RuleClusterNetwork},
		{name: "API internal name api-int", dns: []string{"api-int.cluster.example.com"}, want: RuleAPIServerName},
		{name: "API name api", dns: []string{"api.cluster.example.com"}, want: RuleAPIServerName},
		{name: "API server URL that is an IP", ips: []string{"10.0.0.7"}, want: RuleAPIServerName,
			inv: func(inv *inventory) { inv.Infrastructure.Status.APIServerInternalURL = "https://10.0.0.7:6443" }},
		{name: "platform API VIP", ips: []string{"10.0.0.5"}, want: RulePlatformVIP},
		{name: "platform ingress VIP", ips: []string{"10.0.0.6"}, want: RulePlatformVIP},
		{name: "other node's IP", ips: []string{"10.0.0.11"}, want: RuleOtherNodeAddress},
		{name: "other node's hostname", dns: []string{"master-1"}, want: RuleOtherNodeAddress},
		{name: "other node's name it does not report", dns: []string{"worker-9"}, want: RuleOtherNodeName,
			inv: func(inv *inventory) {
				n := node("worker-9", true, "10.0.0.30")
				n.Status.Addresses = n.Status.Addresses[:1]
				inv.Nodes["worker-9"] = n
			}},
		{name: "cloud metadata IP", ips: []string{"169.254.169.254"}, want: RuleSpecialAddress},
		{name: "loopback", ips: []string{"127.0.0.1"}, want: RuleSpecialAddress},
		{name: "localhost", dns: []string{"localhost"}, want: RuleSpecialAddress},
		{name: "wildcard", dns: []string{"*.apps.cluster.example.com"}, want: RuleWildcardName},
		{name: "no Infrastructure", dns: []string{"ghost"}, want: RuleClusterIdentitiesUnknown,
			inv: func(inv *inventory) { inv.Infrastructure = nil }},
		{name: "no Network", dns: []string{"ghost"}, want: RuleClusterIdentitiesUnknown,
			inv: func(inv *inventory) { inv.Network = nil }},
		{name: "unparsable service network", dns: []string{"ghost"}, want: RuleClusterIdentitiesUnknown,
			inv: func(inv *inventory) { inv.Network.Spec.ServiceNetwork = []string{"172.30.0.0"} }},
		{name: "Network status wins over spec", ips: []string{"172.31.0.1"}, want: RuleKubernetesServiceIP,
			inv: func(inv *inventory) {
				inv.Network.Status = configv1.NetworkStatus{ServiceNetwork: []string{"172.31.0.0/16"}}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := nodeAddressInventory()
			if tc.inv != nil {
				tc.inv(inv)
			}
			// The node reports every name it asks for: self-written.
			ghost := inv.Nodes["ghost"]
			for _, d := range tc.dns {
				ghost.Status.Addresses = append(ghost.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: d})
			}
			for _, ip := range tc.ips {
				ghost.Status.Addresses = append(ghost.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
			}
			v := validate(servingCSR(t, "s", "ghost", tc.dns, tc.ips), inv)
			if tc.want == "" {
				if !v.Valid() || v.Policy != PolicyKubeletServingNodeAddresses {
					t.Fatalf("refused: policy %q reasons %q", v.Policy, v.Reasons)
				}
				return
			}
			if v.Valid() {
				t.Fatalf("approved under %s, want refused by rule %s", v.Policy, tc.want)
			}
			if !slices.Equal(v.Rules, []Rule{tc.want}) {
				t.Errorf("rules %q, want [%s]; reasons %q", v.Rules, tc.want, v.Reasons)
			}
			if len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], "refused by rule "+string(tc.want)) {
				t.Errorf("reasons %q, want one naming rule %s", v.Reasons, tc.want)
			}
		})
	}
}

// A node-bootstrapper CSR for an existing Node (runbook 5.4) rests on the
// Node having stopped reporting; its Ready condition is written by the
// node itself, so it is cross-checked with the node controller's taint.
func TestValidateExpiredClientNeedsNodeControllerVerdict(t *testing.T) {
	tests := []struct {
		name       string
		machineAPI bool
		edit       func(*corev1.Node)
		want       string // "" when the CSR must pass
	}{
		{name: "unknown and tainted (Machine API)", machineAPI: true},
		{name: "unknown and tainted (Node addresses)"},
		{name: "kubelet reports Ready=False", machineAPI: true, want: "reports Ready=False",
			edit: func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse; n.Spec.Taints = nil }},
		{name: "kubelet reports Ready=False without Machine API", want: "reports Ready=False",
			edit: func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }},
		{name: "Ready=Unknown written without the node controller's taint", want: "without the node controller's node.kubernetes.io/unreachable taint",
			edit: func(n *corev1.Node) { n.Spec.Taints = nil }},
		{name: "no Ready condition", machineAPI: true, want: "has no Ready condition",
			edit: func(n *corev1.Node) { n.Status.Conditions = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv := fixtureInventory()
			if !tc.machineAPI {
				inv = nodeAddressInventory()
			}
			if tc.edit != nil {
				tc.edit(inv.Nodes["master-0"])
			}
			v := validate(clientCSR(t, "c", "master-0", t0.Add(3*time.Hour)), inv)
			if tc.want == "" {
				if !v.Valid() || v.Policy != PolicyExpiredClientCertificate {
					t.Fatalf("refused: %q", v.Reasons)
				}
				return
			}
			if v.Valid() || len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], tc.want) {
				t.Fatalf("valid=%v reasons %q, want one containing %q", v.Valid(), v.Reasons, tc.want)
			}
		})
	}
}
