package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"slices"
	"strings"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The machine API, as the machine-api-operator's machine controller with an
// AWS-like actuator does it:
//
//   - a new Machine gets the machine finalizer, phase Provisioning,
//     spec.providerID and a providerStatus with instanceState running;
//   - on the next pass the "instance" boots: a new host tree (addHost) with
//     a new node name, a Ready Node with the machine's role and addresses,
//     and the Machine gets status.addresses, status.nodeRef and phase Running;
//   - providerStatus.instanceState and the machine.openshift.io/instance-state
//     annotation follow the host's power (running / stopped);
//   - a deleted Machine takes its Node and its host away (removeHost). The
//     etcd member that ran on the host stops with it but stays in the etcd
//     member list, as on a real cluster, until someone removes it.

const (
	machineNamespace         = names.MachineAPINamespace
	machineFinalizer         = "machine.machine.openshift.io"
	machineRoleLabel         = "machine.openshift.io/cluster-api-machine-role"
	machineInstanceStateAnno = "machine.openshift.io/instance-state"

	machinePhaseProvisioning = "Provisioning"
	machinePhaseRunning      = "Running"
	machinePhaseDeleting     = "Deleting"

	instanceRunning = "running"
	instanceStopped = "stopped"
)

// syncMachines is one pass of the machine controller.
func (c *Cluster) syncMachines(ctx context.Context) error {
	list, err := c.ctlMachine().MachineV1beta1().Machines(machineNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing machines: %w", err)
	}
	var errs []error
	for i := range list.Items {
		if err := c.syncMachine(ctx, &list.Items[i]); err != nil {
			errs = append(errs, fmt.Errorf("machine %s: %w", list.Items[i].Name, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) syncMachine(ctx context.Context, m *machinev1beta1.Machine) error {
	machines := c.ctlMachine().MachineV1beta1().Machines(machineNamespace)
	if m.DeletionTimestamp != nil {
		return c.deleteMachine(ctx, m)
	}
	if !slices.Contains(m.Finalizers, machineFinalizer) {
		m.Finalizers = append(m.Finalizers, machineFinalizer)
		updated, err := machines.Update(ctx, m, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("adding finalizer: %w", err)
		}
		m = updated
	}

	node := c.machineNode(m)
	switch {
	case m.Status.Phase == nil || *m.Status.Phase == "":
		return c.provisionMachine(ctx, m)
	case *m.Status.Phase == machinePhaseProvisioning && node != "" && m.Status.NodeRef == nil:
		return c.bootMachine(ctx, m, node)
	}
	if node == "" {
		return nil
	}
	// Keep instance state in line with the host's power.
	h := c.Host(node)
	state := instanceStopped
	if h != nil && h.Powered() {
		state = instanceRunning
	}
	return c.setInstanceState(ctx, m, state)
}

// machineNode returns the node name of m: its nodeRef, or the name chosen
// when it was provisioned.
func (c *Cluster) machineNode(m *machinev1beta1.Machine) string {
	if m.Status.NodeRef != nil && m.Status.NodeRef.Name != "" {
		return m.Status.NodeRef.Name
	}
	s := c.sim()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.machineNodes[string(m.UID)]
}

// provisionMachine moves a new Machine to Provisioning with an instance.
func (c *Cluster) provisionMachine(ctx context.Context, m *machinev1beta1.Machine) error {
	machines := c.ctlMachine().MachineV1beta1().Machines(machineNamespace)
	node, err := c.newNodeName(ctx)
	if err != nil {
		return err
	}
	instanceID := "i-" + randomHex(9)[:17]
	if m.Spec.ProviderID == nil || *m.Spec.ProviderID == "" {
		id := "aws:///us-east-1a/" + instanceID
		m.Spec.ProviderID = &id
	}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[machineInstanceStateAnno] = instanceRunning
	updated, err := machines.Update(ctx, m, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("setting providerID: %w", err)
	}
	m = updated
	phase := machinePhaseProvisioning
	m.Status.Phase = &phase
	ps, err := providerStatusWith(m.Status.ProviderStatus, map[string]any{
		"apiVersion":    "awsproviderconfig.openshift.io/v1beta1",
		"kind":          "AWSMachineProviderStatus",
		"instanceId":    instanceID,
		"instanceState": instanceRunning,
		"conditions": []any{map[string]any{
			"type": "MachineCreation", "status": "True",
			"reason": "MachineCreationSucceeded", "message": "machine successfully created",
			"lastProbeTime": metav1.Now(), "lastTransitionTime": metav1.Now(),
		}},
	})
	if err != nil {
		return err
	}
	m.Status.ProviderStatus = ps
	now := metav1.Now()
	m.Status.LastUpdated = &now
	if _, err := machines.UpdateStatus(ctx, m, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting phase Provisioning: %w", err)
	}
	s := c.sim()
	s.mu.Lock()
	s.machineNodes[string(m.UID)] = node
	s.mu.Unlock()
	return nil
}

// bootMachine brings up the host and Node of a provisioning Machine and
// moves it to Running.
func (c *Cluster) bootMachine(ctx context.Context, m *machinev1beta1.Machine, node string) error {
	role := roleWorker
	if m.Labels[machineRoleLabel] == roleMaster {
		role = roleMaster
	}
	h := c.Host(node)
	if h == nil {
		var err error
		if h, err = c.addHost(ctx, node, role); err != nil {
			return fmt.Errorf("adding host %s: %w", node, err)
		}
	}
	addrs := nodeAddresses(node)
	n, err := c.ctlKube().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		n, err = c.createNode(ctx, node, role, addrs, m)
	}
	if err != nil {
		return fmt.Errorf("node %s: %w", node, err)
	}
	phase := machinePhaseRunning
	m.Status.Phase = &phase
	m.Status.Addresses = addrs
	m.Status.NodeRef = &corev1.ObjectReference{Kind: "Node", Name: n.Name, UID: n.UID}
	now := metav1.Now()
	m.Status.LastUpdated = &now
	if _, err := c.ctlMachine().MachineV1beta1().Machines(machineNamespace).UpdateStatus(ctx, m, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting phase Running: %w", err)
	}
	return nil
}

// createNode registers node the way its kubelet does on first boot.
func (c *Cluster) createNode(ctx context.Context, node, role string, addrs []corev1.NodeAddress, m *machinev1beta1.Machine) (*corev1.Node, error) {
	labels := map[string]string{
		"kubernetes.io/hostname":          node,
		"kubernetes.io/os":                "linux",
		"kubernetes.io/arch":              "amd64",
		"node-role.kubernetes.io/" + role: "",
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        node,
			Labels:      labels,
			Annotations: map[string]string{"machine.openshift.io/machine": machineNamespace + "/" + m.Name},
		},
	}
	if m.Spec.ProviderID != nil {
		n.Spec.ProviderID = *m.Spec.ProviderID
	}
	if role == "master" {
		n.Spec.Taints = []corev1.Taint{{Key: names.MasterLabel, Effect: corev1.TaintEffectNoSchedule}}
	}
	created, err := c.ctlKube().CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	now := metav1.Now()
	created.Status.Addresses = addrs
	created.Status.Conditions = []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: nodeReadyReason, Message: nodeReadyMessage,
		LastHeartbeatTime: now, LastTransitionTime: now,
	}}
	created.Status.NodeInfo.KubeletVersion = "v1.18.3"
	return c.ctlKube().CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
}

// deleteMachine releases the instance of a deleted Machine: its Node and
// host go away, then the finalizer is removed.
func (c *Cluster) deleteMachine(ctx context.Context, m *machinev1beta1.Machine) error {
	if !slices.Contains(m.Finalizers, machineFinalizer) {
		return nil
	}
	if m.Status.Phase == nil || *m.Status.Phase != machinePhaseDeleting {
		phase := machinePhaseDeleting
		m.Status.Phase = &phase
		updated, err := c.ctlMachine().MachineV1beta1().Machines(machineNamespace).UpdateStatus(ctx, m, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("setting phase Deleting: %w", err)
		}
		m = updated
	}
	if node := c.machineNode(m); node != "" {
		err := c.ctlKube().CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting node %s: %w", node, err)
		}
		c.removeHost(node)
	}
	m.Finalizers = slices.DeleteFunc(m.Finalizers, func(f string) bool { return f == machineFinalizer })
	if _, err := c.ctlMachine().MachineV1beta1().Machines(machineNamespace).Update(ctx, m, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing finalizer: %w", err)
	}
	s := c.sim()
	s.mu.Lock()
	delete(s.machineNodes, string(m.UID))
	s.mu.Unlock()
	return nil
}

// setInstanceState records the instance's state in the Machine's
// providerStatus and instance-state annotation, writing only on change.
func (c *Cluster) setInstanceState(ctx context.Context, m *machinev1beta1.Machine, state string) error {
	machines := c.ctlMachine().MachineV1beta1().Machines(machineNamespace)
	if m.Annotations[machineInstanceStateAnno] != state {
		if m.Annotations == nil {
			m.Annotations = map[string]string{}
		}
		m.Annotations[machineInstanceStateAnno] = state
		updated, err := machines.Update(ctx, m, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("annotating instance state: %w", err)
		}
		m = updated
	}
	if providerInstanceState(m.Status.ProviderStatus) == state {
		return nil
	}
	ps, err := providerStatusWith(m.Status.ProviderStatus, map[string]any{"instanceState": state})
	if err != nil {
		return err
	}
	m.Status.ProviderStatus = ps
	now := metav1.Now()
	m.Status.LastUpdated = &now
	if _, err := machines.UpdateStatus(ctx, m, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting instance state: %w", err)
	}
	return nil
}

// machineForNode finds the Machine whose nodeRef (or provisioning record)
// names node.
func (c *Cluster) machineForNode(ctx context.Context, node string) (*machinev1beta1.Machine, error) {
	list, err := c.ctlMachine().MachineV1beta1().Machines(machineNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing machines: %w", err)
	}
	for i := range list.Items {
		if c.machineNode(&list.Items[i]) == node {
			return &list.Items[i], nil
		}
	}
	return nil, fmt.Errorf("no machine for node %q: %w", node, errNoMachine)
}

var errNoMachine = errors.New("machine not found")

// providerStatusWith returns raw with the fields of set merged in.
func providerStatusWith(raw *runtime.RawExtension, set map[string]any) (*runtime.RawExtension, error) {
	fields := map[string]any{}
	if raw != nil && len(raw.Raw) > 0 {
		if err := json.Unmarshal(raw.Raw, &fields); err != nil {
			return nil, fmt.Errorf("decoding providerStatus: %w", err)
		}
	}
	for k, v := range set {
		if _, exists := fields[k]; exists && (k == "apiVersion" || k == "kind" || k == "instanceId" || k == "conditions") {
			continue
		}
		fields[k] = v
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encoding providerStatus: %w", err)
	}
	return &runtime.RawExtension{Raw: b}, nil
}

// providerInstanceState reads providerStatus.instanceState.
func providerInstanceState(raw *runtime.RawExtension) string {
	if raw == nil || len(raw.Raw) == 0 {
		return ""
	}
	var fields struct {
		InstanceState string `json:"instanceState"`
	}
	_ = json.Unmarshal(raw.Raw, &fields)
	return fields.InstanceState
}

// newNodeName picks an AWS-style node name (ip-10-0-X-Y.ec2.internal) used
// by no Node and no host.
func (c *Cluster) newNodeName(ctx context.Context) (string, error) {
	nodes, err := c.ctlKube().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("listing nodes: %w", err)
	}
	used := map[string]bool{}
	for _, n := range nodes.Items {
		used[n.Name] = true
	}
	s := c.sim()
	s.mu.Lock()
	for _, n := range s.machineNodes {
		used[n] = true
	}
	s.mu.Unlock()
	for i := 0; i < 1000; i++ {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		name := fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", 128+int(b[0])%64, 2+int(b[1])%250)
		if !used[name] && c.Host(name) == nil {
			return name, nil
		}
	}
	return "", errors.New("no free node name")
}

// nodeAddresses are the addresses of an AWS-style node name.
func nodeAddresses(node string) []corev1.NodeAddress {
	addrs := []corev1.NodeAddress{}
	if ip, ok := strings.CutPrefix(node, "ip-"); ok {
		ip, _, _ = strings.Cut(ip, ".")
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: strings.ReplaceAll(ip, "-", ".")})
	}
	return append(addrs,
		corev1.NodeAddress{Type: corev1.NodeInternalDNS, Address: node},
		corev1.NodeAddress{Type: corev1.NodeHostName, Address: node},
	)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
