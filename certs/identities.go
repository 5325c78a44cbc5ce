package certs

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	configv1 "github.com/openshift/api/config/v1"
	corev1 "k8s.io/api/core/v1"
)

// Rule names the check that refused a name or address of a kubelet serving
// CSR checked against Node addresses (PolicyKubeletServingNodeAddresses).
// A Node's status addresses are written by the node's own kubelet, so in
// that mode every name must also pass these cross-checks against objects
// the node cannot write. The reason of a refusal starts with
// "refused by rule <rule>".
type Rule string

const (
	// RuleKubernetesServiceName: a name of the kubernetes service
	// (kubernetes, kubernetes.default, kubernetes.default.svc,
	// kubernetes.default.svc.<cluster DNS domain>).
	RuleKubernetesServiceName Rule = "kubernetes-service-name"
	// RuleKubernetesServiceIP: the first IP of the service network, the
	// kubernetes service's cluster IP (172.30.0.1 by default).
	RuleKubernetesServiceIP Rule = "kubernetes-service-ip"
	// RuleServiceNetwork: any other IP of the service network (the cluster
	// IPs of services), from the Network config.
	RuleServiceNetwork Rule = "service-network"
	// RuleClusterNetwork: an IP of the pod network, from the Network config.
	RuleClusterNetwork Rule = "cluster-network"
	// RuleAPIServerName: a host of the Infrastructure status apiServerURL
	// or apiServerInternalURI (api.<domain>, api-int.<domain>).
	RuleAPIServerName Rule = "api-server-name"
	// RulePlatformVIP: an API or ingress virtual IP of the platform status
	// of the Infrastructure object (bare metal, vSphere, OpenStack, ...):
	// it moves between nodes.
	RulePlatformVIP Rule = "platform-vip"
	// RuleSpecialAddress: a loopback, unspecified, link-local or multicast
	// IP (169.254.169.254 is the cloud metadata service), or localhost.
	RuleSpecialAddress Rule = "special-address"
	// RuleWildcardName: a DNS name with a wildcard, which no node owns.
	RuleWildcardName Rule = "wildcard-name"
	// RuleOtherNodeAddress: an address (IP, DNS name or hostname) that
	// another Node also reports.
	RuleOtherNodeAddress Rule = "other-node-address"
	// RuleOtherNodeName: the name of another Node.
	RuleOtherNodeName Rule = "other-node-name"
	// RuleClusterIdentitiesUnknown: the Infrastructure or Network config
	// could not be read (no ApproveOptions.Config, or the object is
	// missing or unusable), so the in-cluster identities are not known and
	// no name is approved from Node addresses.
	RuleClusterIdentitiesUnknown Rule = "cluster-identities-unknown"
)

// clusterDNSDomain is the DNS domain of services in OpenShift 4
// (kubernetes.default.svc.cluster.local); it is not configurable.
const clusterDNSDomain = "cluster.local"

// identities are the names and addresses that belong to the cluster's own
// services, never to one node.
type identities struct {
	serviceNames map[string]bool // lower case, no trailing dot
	apiNames     map[string]bool
	apiIPs       []net.IP
	serviceIP    net.IP
	serviceNets  []*net.IPNet
	clusterNets  []*net.IPNet
	vips         []net.IP
}

// clusterIdentities derives the in-cluster identities from the
// Infrastructure and Network config. It returns an error saying what is
// missing when they cannot be known.
func clusterIdentities(infra *configv1.Infrastructure, network *configv1.Network) (*identities, error) {
	if infra == nil {
		return nil, fmt.Errorf("no Infrastructure config")
	}
	if network == nil {
		return nil, fmt.Errorf("no Network config")
	}
	id := &identities{serviceNames: map[string]bool{}, apiNames: map[string]bool{}}
	for _, n := range []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + clusterDNSDomain} {
		id.serviceNames[n] = true
	}
	apiHosts := 0
	for _, raw := range []string{infra.Status.APIServerURL, infra.Status.APIServerInternalURL} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("Infrastructure API server URL %q has no host", raw)
		}
		apiHosts++
		if ip := net.ParseIP(u.Hostname()); ip != nil {
			id.apiIPs = append(id.apiIPs, ip)
		} else {
			id.apiNames[normalizeName(u.Hostname())] = true
		}
	}
	if apiHosts == 0 {
		return nil, fmt.Errorf("Infrastructure status has neither apiServerURL nor apiServerInternalURI")
	}
	id.vips = platformVIPs(infra.Status.PlatformStatus)

	serviceCIDRs := network.Status.ServiceNetwork
	if len(serviceCIDRs) == 0 {
		serviceCIDRs = network.Spec.ServiceNetwork
	}
	for _, s := range serviceCIDRs {
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("Network service network %q: %v", s, err)
		}
		id.serviceNets = append(id.serviceNets, n)
	}
	if len(id.serviceNets) == 0 {
		return nil, fmt.Errorf("Network config has no service network")
	}
	id.serviceIP = firstIP(id.serviceNets[0])
	clusterCIDRs := network.Status.ClusterNetwork
	if len(clusterCIDRs) == 0 {
		clusterCIDRs = make([]configv1.ClusterNetworkEntry, len(network.Spec.ClusterNetwork))
		copy(clusterCIDRs, network.Spec.ClusterNetwork)
	}
	for _, e := range clusterCIDRs {
		_, n, err := net.ParseCIDR(e.CIDR)
		if err != nil {
			return nil, fmt.Errorf("Network cluster network %q: %v", e.CIDR, err)
		}
		id.clusterNets = append(id.clusterNets, n)
	}
	return id, nil
}

// firstIP is the network address plus one, the IP the API server gives the
// kubernetes service.
func firstIP(n *net.IPNet) net.IP {
	ip := make(net.IP, len(n.IP))
	copy(ip, n.IP)
	for i := len(ip) - 1; i >= 0; i-- {
		ip[i]++
		if ip[i] != 0 {
			break
		}
	}
	return ip
}

// platformVIPs collects every API and ingress virtual IP of the platform
// status, whatever the platform: the fields are named alike on each.
func platformVIPs(ps *configv1.PlatformStatus) []net.IP {
	if ps == nil {
		return nil
	}
	raw, err := json.Marshal(ps)
	if err != nil {
		return nil
	}
	var tree any
	if json.Unmarshal(raw, &tree) != nil {
		return nil
	}
	var ips []net.IP
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, sub := range v {
				switch k {
				case "apiServerInternalIP", "ingressIP", "apiServerInternalIPs", "ingressIPs":
					ips = append(ips, ipsOf(sub)...)
				default:
					walk(sub)
				}
			}
		case []any:
			for _, sub := range v {
				walk(sub)
			}
		}
	}
	walk(tree)
	return ips
}

func ipsOf(v any) []net.IP {
	var out []net.IP
	switch v := v.(type) {
	case string:
		if ip := net.ParseIP(v); ip != nil {
			out = append(out, ip)
		}
	case []any:
		for _, s := range v {
			out = append(out, ipsOf(s)...)
		}
	}
	return out
}

func normalizeName(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }

// refuseName says which rule refuses DNS name for node, or "".
func (id *identities) refuseName(name, node string, idx *nodeIndex) (Rule, string) {
	n := normalizeName(name)
	switch {
	case strings.Contains(n, "*"):
		return RuleWildcardName, "is a wildcard"
	case n == "localhost" || strings.HasSuffix(n, ".localhost"):
		return RuleSpecialAddress, "names the local host"
	case id.serviceNames[n]:
		return RuleKubernetesServiceName, "is a name of the kubernetes service"
	case id.apiNames[n]:
		return RuleAPIServerName, "is a name of the API server (Infrastructure status)"
	}
	if other := idx.other(idx.byAddress[n], node); other != "" {
		return RuleOtherNodeAddress, "is also an address of node " + other
	}
	if other := idx.other(idx.byName[n], node); other != "" {
		return RuleOtherNodeName, "is the name of node " + other
	}
	return "", ""
}

// refuseIP says which rule refuses ip for node, or "".
func (id *identities) refuseIP(ip net.IP, node string, idx *nodeIndex) (Rule, string) {
	switch {
	case ip.IsLoopback() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast():
		return RuleSpecialAddress, "is a loopback, unspecified, link-local or multicast address"
	case ip.Equal(id.serviceIP):
		return RuleKubernetesServiceIP, "is the IP of the kubernetes service"
	}
	for _, a := range id.apiIPs {
		if a.Equal(ip) {
			return RuleAPIServerName, "is the API server's address (Infrastructure status)"
		}
	}
	for _, v := range id.vips {
		if v.Equal(ip) {
			return RulePlatformVIP, "is a virtual IP of the platform (Infrastructure status)"
		}
	}
	for _, n := range id.serviceNets {
		if n.Contains(ip) {
			return RuleServiceNetwork, "is in the service network " + n.String()
		}
	}
	for _, n := range id.clusterNets {
		if n.Contains(ip) {
			return RuleClusterNetwork, "is in the cluster (pod) network " + n.String()
		}
	}
	if other := idx.other(idx.byAddress[ip.String()], node); other != "" {
		return RuleOtherNodeAddress, "is also an address of node " + other
	}
	return "", ""
}

// nodeIndex maps every address a Node reports (names normalized, IPs in
// canonical form, whatever the address type) and every Node name to the
// Nodes, sorted by name.
type nodeIndex struct {
	byAddress map[string][]string
	byName    map[string][]string
}

func newNodeIndex(nodes map[string]*corev1.Node) *nodeIndex {
	idx := &nodeIndex{byAddress: map[string][]string{}, byName: map[string][]string{}}
	names := make([]string, 0, len(nodes))
	for name := range nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		idx.byName[normalizeName(name)] = append(idx.byName[normalizeName(name)], name)
		n := nodes[name]
		if n == nil {
			continue
		}
		seen := map[string]bool{}
		for _, a := range n.Status.Addresses {
			key := normalizeName(a.Address)
			if ip := net.ParseIP(a.Address); ip != nil {
				key = ip.String()
			}
			if key == "" || seen[key] {
				continue
			}
			seen[key] = true
			idx.byAddress[key] = append(idx.byAddress[key], name)
		}
	}
	return idx
}

// other returns the first of names that is not node.
func (idx *nodeIndex) other(names []string, node string) string {
	for _, n := range names {
		if n != node {
			return n
		}
	}
	return ""
}
