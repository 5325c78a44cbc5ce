package clustertest

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"strconv"

	machinev1 "github.com/openshift/api/machine/v1"
	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The ControlPlaneMachineSet controller, as the
// cluster-control-plane-machine-set-operator does it for the one case the
// recovery procedures meet: while the set named "cluster" is Active, every
// control-plane index 0..replicas-1 that has no Machine (the old one was
// deleted) gets a new Machine built from the set's template, named
// <prefix>-<5 random characters>-<index>. The prefix is
// spec.machineNamePrefix, or "<infrastructure name>-master" as the
// operator's default. Machines being deleted count as missing, as a
// RollingUpdate replaces them. An Inactive set does nothing.
//
// Options.ControlPlaneMachineSet seeds the set ("Active" or "Inactive")
// from master-0's Machine; "" seeds none (4.5 to 4.11, and user-provisioned
// clusters), so the runbook's own re-create path runs.

const cpmsName = "cluster"

var machineIndex = regexp.MustCompile(`-(\d+)$`)

// seedControlPlaneMachineSet creates the set from the first master's
// Machine.
func (c *Cluster) seedControlPlaneMachineSet(ctx context.Context) error {
	state := machinev1.ControlPlaneMachineSetState(c.opts.ControlPlaneMachineSet)
	if state == "" {
		return nil
	}
	first, err := c.Machine.MachineV1beta1().Machines(nsMachineAPI).Get(ctx, c.name+"-master-0", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("clustertest: control plane machine set: %w", err)
	}
	labels := map[string]string{
		"machine.openshift.io/cluster-api-cluster":      c.name,
		"machine.openshift.io/cluster-api-machine-role": roleMaster,
		"machine.openshift.io/cluster-api-machine-type": roleMaster,
	}
	set := &machinev1.ControlPlaneMachineSet{
		ObjectMeta: metav1.ObjectMeta{Name: cpmsName, Namespace: nsMachineAPI},
		Spec: machinev1.ControlPlaneMachineSetSpec{
			State:    state,
			Replicas: ptr.To(int32(c.opts.Masters)),
			Strategy: machinev1.ControlPlaneMachineSetStrategy{Type: machinev1.RollingUpdate},
			Selector: metav1.LabelSelector{MatchLabels: labels},
			Template: machinev1.ControlPlaneMachineSetTemplate{
				MachineType: machinev1.OpenShiftMachineV1Beta1MachineType,
				OpenShiftMachineV1Beta1Machine: &machinev1.OpenShiftMachineV1Beta1MachineTemplate{
					ObjectMeta: machinev1.ControlPlaneMachineSetTemplateObjectMeta{Labels: labels},
					Spec:       machinev1beta1.MachineSpec{ProviderSpec: first.Spec.ProviderSpec},
				},
			},
		},
	}
	if _, err := c.Machine.MachineV1().ControlPlaneMachineSets(nsMachineAPI).Create(ctx, set, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("clustertest: creating control plane machine set: %w", err)
	}
	return nil
}

// syncControlPlaneMachineSet is one pass of the set's controller.
func (c *Cluster) syncControlPlaneMachineSet(ctx context.Context) error {
	if c.opts.ControlPlaneMachineSet == "" {
		return nil
	}
	set, err := c.ctlMachine().MachineV1().ControlPlaneMachineSets(nsMachineAPI).Get(ctx, cpmsName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	tmpl := set.Spec.Template.OpenShiftMachineV1Beta1Machine
	if set.Spec.State != machinev1.ControlPlaneMachineSetStateActive || set.Spec.Replicas == nil || tmpl == nil {
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(&set.Spec.Selector)
	if err != nil {
		return err
	}
	machines := c.ctlMachine().MachineV1beta1().Machines(nsMachineAPI)
	list, err := machines.List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return err
	}
	have := map[int]bool{}
	for _, m := range list.Items {
		if m.DeletionTimestamp != nil {
			continue
		}
		if g := machineIndex.FindStringSubmatch(m.Name); g != nil {
			i, _ := strconv.Atoi(g[1])
			have[i] = true
		}
	}
	prefix := set.Spec.MachineNamePrefix
	if prefix == "" {
		prefix = c.name + "-master"
	}
	for i := range int(*set.Spec.Replicas) {
		if have[i] {
			continue
		}
		m := &machinev1beta1.Machine{
			ObjectMeta: metav1.ObjectMeta{
				Name:      fmt.Sprintf("%s-%s-%d", prefix, randomName(5), i),
				Namespace: nsMachineAPI,
				Labels:    maps.Clone(tmpl.ObjectMeta.Labels),
			},
			Spec: *tmpl.Spec.DeepCopy(),
		}
		if _, err := machines.Create(ctx, m, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("control plane machine set: creating machine for index %d: %w", i, err)
		}
		c.controllerLogger().Info("control plane machine set created a machine", "machine", m.Name, "index", i)
	}
	return nil
}
