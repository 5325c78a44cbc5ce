package member

import (
	"context"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"log/slog"

	machinev1 "github.com/openshift/api/machine/v1"
	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/plan"
)

// controlPlaneMachineSetName is the one ControlPlaneMachineSet a cluster
// has ("oc -n openshift-machine-api get controlplanemachineset cluster").
const controlPlaneMachineSetName = names.ClusterResource

// annotationReplacedBy marks the saved new-master-machine.yaml of a
// replacement the ControlPlaneMachineSet makes: lifeboat deleted the old
// Machine and adopts the set's new one.
const annotationReplacedBy = "lifeboat.dev/replaced-by"

const replacedByCPMS = "control-plane-machine-set"

// masterMachineRole is the machine role label's value on masters.
const (
	machineRoleLabel  = "machine.openshift.io/cluster-api-machine-role"
	masterMachineRole = "master"
)

// activeControlPlaneMachineSet reports whether the cluster's
// ControlPlaneMachineSet exists and is Active: then the current releases'
// procedure deletes the failed master's Machine and lets the set create
// its replacement, instead of re-creating it by hand (runbook 2.4.1 step
// 3). A cluster without the resource type (4.5 to 4.11) or without the
// set is not active; other API errors are returned.
func activeControlPlaneMachineSet(ctx context.Context, machines machineclient.Interface, namespace string) (bool, error) {
	if namespace == "" {
		namespace = machineNamespace
	}
	set, err := machines.MachineV1().ControlPlaneMachineSets(namespace).Get(ctx, controlPlaneMachineSetName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("member: reading the ControlPlaneMachineSet: %w", err)
	}
	return set.Spec.State == machinev1.ControlPlaneMachineSetStateActive, nil
}

// replaceThroughSet deletes old (when still there) and waits for the
// Machine the ControlPlaneMachineSet creates for the same index to run,
// annotating it with what it replaces so a resumed run adopts it. old is
// nil on a resumed run, oldName then comes from the saved file.
func replaceThroughSet(ctx context.Context, machines machineclient.Interface, node string, old *machinev1beta1.Machine, oldName string, opts RecreateOptions, log *slog.Logger, res *RecreateResult) (*RecreateResult, error) {
	mc := machines.MachineV1beta1().Machines(opts.Namespace)
	index := ""
	if g := indexed.FindStringSubmatch(oldName); g != nil {
		index = g[2]
	}
	if old != nil {
		if opts.SaveDir != "" {
			marker := newMachineFrom(old, old.Name)
			marker.Annotations[annotationReplacedBy] = replacedByCPMS
			markerYAML, err := machineYAML(marker)
			if err != nil {
				return res, err
			}
			if err := saveFiles(opts.SaveDir, old.Name, res.OldYAML, markerYAML); err != nil {
				return res, err
			}
		}
		plan.ReportProgress(ctx, fmt.Sprintf("deleting machine %s of node %s; the active ControlPlaneMachineSet creates its replacement", old.Name, node))
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("member: deleting machine %s: %w", old.Name, err)
		}
		if err := mc.Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return res, fmt.Errorf("member: deleting machine %s: %w", old.Name, err)
		}
	}
	newName, lastPhase := "", "-" // "-": nothing reported yet
	err := wait.PollUntilContextCancel(ctx, opts.Interval, true, func(ctx context.Context) (bool, error) {
		if newName == "" {
			m, err := findSetReplacement(ctx, mc, node, oldName, index)
			if err != nil || m == nil {
				if lastPhase == "-" {
					plan.ReportProgress(ctx, fmt.Sprintf("waiting for the ControlPlaneMachineSet to create the replacement of machine %s", oldName))
					lastPhase = "waiting"
				}
				return false, err
			}
			patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q,%q:%q}}}`, annotationReplacesMachine, oldName, annotationReplacesNode, node)
			if _, err := mc.Patch(ctx, m.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				return false, fmt.Errorf("member: annotating replacement machine %s: %w", m.Name, err)
			}
			newName = m.Name
			log.InfoContext(ctx, "control plane machine set created a machine", "machine", newName, "replaces", oldName, "node", node)
		}
		m, err := mc.Get(ctx, newName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		res.New = m
		phase := deref(m.Status.Phase)
		if phase != lastPhase {
			lastPhase = phase
			plan.ReportProgress(ctx, fmt.Sprintf("machine %s is %s", newName, phaseText(phase)))
		}
		if phase == "Failed" {
			return false, fmt.Errorf("machine %s failed: %s", newName, deref(m.Status.ErrorMessage))
		}
		return phase == "Running" && m.Status.NodeRef != nil, nil
	})
	if err != nil {
		return res, fmt.Errorf("member: waiting for the ControlPlaneMachineSet's replacement of machine %s: %w", oldName, err)
	}
	res.NewNode = res.New.Status.NodeRef.Name
	return res, nil
}

func phaseText(phase string) string {
	if phase == "" {
		return "created, no phase yet"
	}
	return phase
}

// findSetReplacement finds the master Machine that replaces oldName: one
// already annotated for node, else the one of the same index that is not
// oldName and not being deleted.
func findSetReplacement(ctx context.Context, mc interface {
	List(context.Context, metav1.ListOptions) (*machinev1beta1.MachineList, error)
}, node, oldName, index string) (*machinev1beta1.Machine, error) {
	list, err := mc.List(ctx, metav1.ListOptions{LabelSelector: machineRoleLabel + "=" + masterMachineRole})
	if err != nil {
		return nil, fmt.Errorf("member: listing master machines: %w", err)
	}
	var candidate *machinev1beta1.Machine
	for i := range list.Items {
		m := &list.Items[i]
		if m.Annotations[annotationReplacesNode] == node {
			return m, nil
		}
		if m.Name == oldName || m.DeletionTimestamp != nil || index == "" {
			continue
		}
		if g := indexed.FindStringSubmatch(m.Name); g != nil && g[2] == index && (m.Status.NodeRef == nil || m.Status.NodeRef.Name != node) {
			candidate = m
		}
	}
	return candidate, nil
}

// recreateThroughSet is RecreateMachine's path for an active set: the old
// Machine's name comes from old, from a replacement already annotated, or
// from the saved marker of a run that deleted it.
func recreateThroughSet(ctx context.Context, machines machineclient.Interface, node string, old, existingNew *machinev1beta1.Machine, opts RecreateOptions, log *slog.Logger, res *RecreateResult) (*RecreateResult, error) {
	switch {
	case old != nil:
		res.OldName, res.Old = old.Name, old.DeepCopy()
		var err error
		if res.OldYAML, err = machineYAML(old); err != nil {
			return nil, err
		}
	case existingNew != nil:
		res.Resumed, res.OldName = true, existingNew.Annotations[annotationReplacesMachine]
	default:
		saved, err := loadSaved(opts.SaveDir, node)
		if err != nil {
			return nil, err
		}
		if saved == nil || saved.Annotations[annotationReplacedBy] != replacedByCPMS {
			return nil, &NoMachineError{Node: node, Namespace: opts.Namespace}
		}
		res.Resumed, res.OldName = true, saved.Annotations[annotationReplacesMachine]
	}
	res, err := replaceThroughSet(ctx, machines, node, old, res.OldName, opts, log, res)
	if err != nil {
		return res, err
	}
	if err := retireSaved(opts.SaveDir, node, opts.now()); err != nil {
		return res, err
	}
	return res, nil
}
