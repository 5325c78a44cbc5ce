package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"strings"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// The seed: what a freshly installed 4.5 cluster on AWS holds that the
// runbook looks at. Node names are AWS private DNS names
// (ip-10-0-X-Y.ec2.internal, InternalIP 10.0.X.Y), masters spread over three
// zones, Machines named <infra>-master-<i> and <infra>-worker-<zone>-<id>.

// Namespaces of the seeded cluster.
const (
	nsEtcd       = names.EtcdNamespace
	nsMachineAPI = names.MachineAPINamespace
	nsConfig     = names.ConfigNamespace

	seedRegion        = "us-east-1"
	seedKubeletVer    = "v1.18.3"
	seedMasterType    = "m4.xlarge"
	seedWorkerType    = "m4.large"
	providerAPIVerAWS = "awsproviderconfig.openshift.io/v1beta1"
)

var seedNamespaces = []string{
	nsEtcd, names.EtcdOperatorNamespace, nsMachineAPI, nsConfig, names.ConfigManagedNamespace,
	names.KubeAPIServerNamespace, names.KubeAPIServerOperatorNamespace,
	"openshift-kube-controller-manager", "openshift-kube-controller-manager-operator",
	"openshift-kube-scheduler", "openshift-kube-scheduler-operator",
	"openshift-cluster-machine-approver", "openshift-machine-config-operator",
	"openshift-cluster-version", "openshift-authentication",
}

// seedClusterOperators are the ClusterOperators of a 4.5 installation.
var seedClusterOperators = []string{
	"authentication", "cloud-credential", "cluster-autoscaler", "config-operator", "console",
	"csi-snapshot-controller", "dns", "etcd", "image-registry", "ingress", "insights",
	"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-storage-version-migrator",
	"machine-api", "machine-approver", "machine-config", "marketplace", "monitoring", "network",
	"node-tuning", "openshift-apiserver", "openshift-controller-manager", "openshift-samples",
	"operator-lifecycle-manager", "operator-lifecycle-manager-catalog",
	"operator-lifecycle-manager-packageserver", "service-ca", "storage",
}

var seedZones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// nodePlan is one node of the seed.
type nodePlan struct {
	name, role, ip, zone, machine, instanceID string
}

// planNodes names the seed's nodes and machines.
func (c *Cluster) planNodes() ([]nodePlan, error) {
	used := map[string]bool{}
	var plan []nodePlan
	add := func(role string, i int) error {
		zi := i % len(seedZones)
		zone := seedZones[zi]
		for range 1000 {
			// AWS subnets of the zones: 10.0.128.0/20, 10.0.144.0/20, 10.0.160.0/20.
			ip := fmt.Sprintf("10.0.%d.%d", 128+16*zi+randInt(16), 2+randInt(250))
			name := "ip-" + strings.ReplaceAll(ip, ".", "-") + ".ec2.internal"
			if used[name] {
				continue
			}
			used[name] = true
			machine := fmt.Sprintf("%s-master-%d", c.name, i)
			if role == roleWorker {
				machine = fmt.Sprintf("%s-worker-%s-%s", c.name, zone, randomName(5))
			}
			plan = append(plan, nodePlan{name: name, role: role, ip: ip, zone: zone, machine: machine, instanceID: "i-0" + randomHex16()})
			return nil
		}
		return errors.New("clustertest: no free node name")
	}
	for i := range c.opts.Masters {
		if err := add(roleMaster, i); err != nil {
			return nil, err
		}
	}
	for i := range c.opts.Workers {
		if err := add(roleWorker, i); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// buildHosts creates the hosts of the plan with their trees: for masters the
// etcd certificates and the four static pods at their initial revisions,
// etcd bootstrapping a new cluster of all masters.
func (c *Cluster) buildHosts(plan []nodePlan) (map[string]*memberCerts, error) {
	certs := map[string]*memberCerts{}
	var masters []*Host
	for _, p := range plan {
		h, err := c.newHost(p.name, p.role, p.ip)
		if err != nil {
			return nil, err
		}
		if err := h.baseTree(); err != nil {
			return nil, err
		}
		if p.role == roleMaster {
			if certs[p.name], err = c.issueEtcdCerts(h); err != nil {
				return nil, err
			}
			masters = append(masters, h)
		}
		c.mu.Lock()
		c.hosts[p.name] = h
		c.order = append(c.order, p.name)
		c.machines[p.name] = p.machine
		c.mu.Unlock()
	}
	var peers []string
	for _, h := range masters {
		peers = append(peers, h.name+"="+h.peerURL)
	}
	for _, h := range masters {
		if err := c.writeEtcdRevision(h, initialRevisions[componentEtcd], strings.Join(peers, ","), "new"); err != nil {
			return nil, err
		}
		for _, comp := range staticPodComponents[1:] {
			if err := c.writeStaticPodRevision(h, comp, initialRevisions[comp]); err != nil {
				return nil, err
			}
		}
	}
	return certs, nil
}

// seed creates the installation's objects.
func (c *Cluster) seed(ctx context.Context, plan []nodePlan, certs map[string]*memberCerts) error {
	if err := parallel(len(seedNamespaces), func(i int) error { return c.createNamespace(ctx, seedNamespaces[i]) }); err != nil {
		return err
	}
	installed := metav1.NewTime(time.Now().Add(-6 * time.Hour).Truncate(time.Second))
	var tasks []func() error
	for _, p := range plan {
		tasks = append(tasks, func() error { return c.seedNode(ctx, p, installed) })
		tasks = append(tasks, func() error { return c.seedMachine(ctx, p, installed) })
		if mc := certs[p.name]; mc != nil {
			tasks = append(tasks, func() error { return c.ensureEtcdSecrets(ctx, p.name, mc) })
		}
	}
	tasks = append(tasks,
		func() error { return c.seedEtcdClientObjects(ctx) },
		func() error { return c.seedStaticPodOperators(ctx, plan) },
		func() error { return c.seedClusterVersion(ctx, installed) },
		func() error { return c.seedConfigObjects(ctx) },
		func() error { return c.seedClusterNetworkConfig(ctx) },
		func() error { return c.seedKubeletSigner(ctx, installed) },
		func() error { return c.writeRecoveryKubeconfigs(ctx) },
	)
	// The set reads master-0's Machine: after the machines.
	if err := parallel(len(tasks), func(i int) error { return tasks[i]() }); err != nil {
		return err
	}
	tasks = []func() error{func() error { return c.seedControlPlaneMachineSet(ctx) }}
	for _, name := range seedClusterOperators {
		tasks = append(tasks, func() error { return c.seedClusterOperator(ctx, name, installed) })
	}
	return parallel(len(tasks), func(i int) error { return tasks[i]() })
}

func (c *Cluster) createNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{"openshift.io/run-level": "0", "openshift.io/cluster-monitoring": "true"},
		Annotations: map[string]string{"openshift.io/node-selector": ""},
	}}
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("clustertest: creating namespace %s: %w", name, err)
	}
	return nil
}

func (c *Cluster) seedNode(ctx context.Context, p nodePlan, installed metav1.Time) error {
	labels := map[string]string{
		"beta.kubernetes.io/arch":                  "amd64",
		"beta.kubernetes.io/os":                    "linux",
		"beta.kubernetes.io/instance-type":         seedMasterType,
		"kubernetes.io/arch":                       "amd64",
		"kubernetes.io/os":                         "linux",
		"kubernetes.io/hostname":                   p.name,
		"node.kubernetes.io/instance-type":         seedMasterType,
		"topology.kubernetes.io/region":            seedRegion,
		"topology.kubernetes.io/zone":              p.zone,
		"failure-domain.beta.kubernetes.io/region": seedRegion,
		"failure-domain.beta.kubernetes.io/zone":   p.zone,
		"node.openshift.io/os_id":                  "rhcos",
		"node-role.kubernetes.io/" + p.role:        "",
	}
	var taints []corev1.Taint
	if p.role == roleMaster {
		taints = []corev1.Taint{{Key: names.MasterLabel, Effect: corev1.TaintEffectNoSchedule}}
	} else {
		labels["beta.kubernetes.io/instance-type"] = seedWorkerType
		labels["node.kubernetes.io/instance-type"] = seedWorkerType
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   p.name,
			Labels: labels,
			Annotations: map[string]string{
				"machine.openshift.io/machine":                           nsMachineAPI + "/" + p.machine,
				"machineconfiguration.openshift.io/currentConfig":        "rendered-" + p.role + "-" + randomHex16()[:16],
				"machineconfiguration.openshift.io/state":                "Done",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
		Spec: corev1.NodeSpec{ProviderID: providerID(p), Taints: taints},
		Status: corev1.NodeStatus{
			Capacity:    nodeResources(),
			Allocatable: nodeResources(),
			Conditions:  readyNodeConditions(installed),
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: p.ip},
				{Type: corev1.NodeHostName, Address: p.name},
				{Type: corev1.NodeInternalDNS, Address: p.name},
			},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID:               randomHex16() + randomHex16(),
				SystemUUID:              "ec2" + randomHex16()[:5],
				BootID:                  randomHex16(),
				KernelVersion:           "4.18.0-193.13.2.el8_2.x86_64",
				OSImage:                 "Red Hat Enterprise Linux CoreOS 45.82.202007240629-0 (Ootpa)",
				ContainerRuntimeVersion: "cri-o://1.18.3-5.rhaos4.5.git1c13d1d.el8",
				KubeletVersion:          seedKubeletVer,
				KubeProxyVersion:        seedKubeletVer,
				OperatingSystem:         "linux",
				Architecture:            "amd64",
			},
		},
	}
	created, err := c.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: creating node %s: %w", p.name, err)
	}
	if len(created.Status.Conditions) == 0 {
		created.Status = node.Status
		if _, err := c.Kube.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("clustertest: node %s status: %w", p.name, err)
		}
	}
	return nil
}

func readyNodeConditions(t metav1.Time) []corev1.NodeCondition {
	cond := func(typ corev1.NodeConditionType, st corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: st, Reason: reason, Message: msg, LastHeartbeatTime: metav1.Now(), LastTransitionTime: t}
	}
	return []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
}

func nodeResources() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("4"),
		corev1.ResourceMemory: resource.MustParse("16116152Ki"),
		corev1.ResourcePods:   resource.MustParse("250"),
	}
}

func providerID(p nodePlan) string { return "aws:///" + p.zone + "/" + p.instanceID }

func (c *Cluster) seedMachine(ctx context.Context, p nodePlan, installed metav1.Time) error {
	itype := seedMasterType
	if p.role == roleWorker {
		itype = seedWorkerType
	}
	spec, err := json.Marshal(map[string]any{
		"apiVersion":         providerAPIVerAWS,
		"kind":               "AWSMachineProviderConfig",
		"instanceType":       itype,
		"placement":          map[string]string{"region": seedRegion, "availabilityZone": p.zone},
		"ami":                map[string]string{"id": "ami-0d5f9982f029fbc14"},
		"credentialsSecret":  map[string]string{"name": "aws-cloud-credentials"},
		"userDataSecret":     map[string]string{"name": p.role + "-user-data"},
		"iamInstanceProfile": map[string]string{"id": c.name + "-" + p.role + "-profile"},
		"subnet":             map[string]any{"filters": []map[string]any{{"name": "tag:Name", "values": []string{c.name + "-private-" + p.zone}}}},
		"securityGroups":     []map[string]any{{"filters": []map[string]any{{"name": "tag:Name", "values": []string{c.name + "-" + p.role + "-sg"}}}}},
		"tags":               []map[string]string{{"name": "kubernetes.io/cluster/" + c.name, "value": "owned"}},
	})
	if err != nil {
		return err
	}
	m := &machinev1beta1.Machine{
		ObjectMeta: metav1.ObjectMeta{
			Name:      p.machine,
			Namespace: nsMachineAPI,
			Labels: map[string]string{
				"machine.openshift.io/cluster-api-cluster":      c.name,
				"machine.openshift.io/cluster-api-machine-role": p.role,
				"machine.openshift.io/cluster-api-machine-type": p.role,
				"machine.openshift.io/instance-type":            itype,
				"machine.openshift.io/region":                   seedRegion,
				"machine.openshift.io/zone":                     p.zone,
			},
			Annotations: map[string]string{"machine.openshift.io/instance-state": "running"},
			Finalizers:  []string{"machine.machine.openshift.io"},
		},
		Spec: machinev1beta1.MachineSpec{
			ProviderSpec: machinev1beta1.ProviderSpec{Value: &runtime.RawExtension{Raw: spec}},
			ProviderID:   ptr.To(providerID(p)),
		},
	}
	if p.role == roleWorker {
		m.Labels["machine.openshift.io/cluster-api-machineset"] = strings.TrimSuffix(p.machine, p.machine[strings.LastIndex(p.machine, "-"):])
	}
	created, err := c.Machine.MachineV1beta1().Machines(nsMachineAPI).Create(ctx, m, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: creating machine %s: %w", p.machine, err)
	}
	node, err := c.Kube.CoreV1().Nodes().Get(ctx, p.name, metav1.GetOptions{})
	var uid string
	if err == nil {
		uid = string(node.UID)
	}
	created.Status = machinev1beta1.MachineStatus{
		NodeRef:     &corev1.ObjectReference{Kind: "Node", Name: p.name, UID: types.UID(uid)},
		LastUpdated: &installed,
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: p.ip},
			{Type: corev1.NodeInternalDNS, Address: p.name},
			{Type: corev1.NodeHostName, Address: p.name},
		},
		Phase:          ptr.To("Running"),
		ProviderStatus: awsProviderStatus(p.instanceID, "running", installed),
	}
	if _, err := c.Machine.MachineV1beta1().Machines(nsMachineAPI).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("clustertest: machine %s status: %w", p.machine, err)
	}
	return nil
}

// awsProviderStatus is an AWSMachineProviderStatus as raw JSON.
func awsProviderStatus(instanceID, state string, t metav1.Time) *runtime.RawExtension {
	b, _ := json.Marshal(map[string]any{
		"apiVersion":    providerAPIVerAWS,
		"kind":          "AWSMachineProviderStatus",
		"instanceId":    instanceID,
		"instanceState": state,
		"conditions": []map[string]any{{
			"type": "MachineCreation", "status": "True", "reason": "MachineCreationSucceeded",
			"message": "machine successfully created", "lastProbeTime": t, "lastTransitionTime": t,
		}},
	})
	return &runtime.RawExtension{Raw: b}
}
