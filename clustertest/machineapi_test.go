package clustertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestReplaceMasterMachine runs runbook 2.4.1 on the simulator: remove the
// member of a stopped master, delete its Machine, re-create it under a new
// name, and a new member joins.
func TestReplaceMasterMachine(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, fastOptions())
	ctx := t.Context()
	victim := c.Masters()[0]
	if err := c.StopMachine(ctx, victim); err != nil {
		t.Fatal(err)
	}
	waitEtcdMessage(t, c, condEtcdMembersAvailable, fmt.Sprintf("2 of 3 members are available, %s is unhealthy", victim))

	// 1. Remove the unhealthy member.
	cli, err := c.EtcdClient(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	members, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members.Members {
		if m.Name == victim {
			if _, err := cli.MemberRemove(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}

	// 3. Delete and re-create the machine.
	machines := c.Machine.MachineV1beta1().Machines(machineNamespace)
	old, err := c.machineForNode(ctx, victim)
	if err != nil {
		t.Fatal(err)
	}
	fresh := &machinev1beta1.Machine{
		ObjectMeta: metav1.ObjectMeta{
			Name:      strings.TrimSuffix(old.Name, "0") + "3",
			Namespace: machineNamespace,
			Labels:    old.Labels,
		},
		Spec: *old.Spec.DeepCopy(),
	}
	fresh.Spec.ProviderID = nil
	if fresh.Name == old.Name {
		fresh.Name = old.Name + "-replacement"
	}
	if err := machines.Delete(ctx, old.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "old machine, node and host gone", func(ctx context.Context) (bool, string) {
		_, err := machines.Get(ctx, old.Name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("machine: %v", err)
		}
		_, err = c.Kube.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return false, fmt.Sprintf("node: %v", err)
		}
		return c.Host(victim) == nil, "host still there"
	})
	if _, err := machines.Create(ctx, fresh, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var newNode string
	eventually(t, 30*time.Second, "new machine Running with a node", func(ctx context.Context) (bool, string) {
		m, err := machines.Get(ctx, fresh.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		phase := ""
		if m.Status.Phase != nil {
			phase = *m.Status.Phase
		}
		if m.Status.NodeRef != nil {
			newNode = m.Status.NodeRef.Name
		}
		return phase == machinePhaseRunning && newNode != "" && m.Spec.ProviderID != nil &&
				providerInstanceState(m.Status.ProviderStatus) == instanceRunning && len(m.Status.Addresses) > 0,
			fmt.Sprintf("phase %q node %q", phase, newNode)
	})
	if c.Host(newNode) == nil {
		t.Fatalf("no host for new node %s", newNode)
	}
	waitNodeReady(t, c, newNode)

	// The etcd operator adds and starts the new member.
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "3 members are available")
	members, err = cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range members.Members {
		names = append(names, m.Name)
	}
	if len(names) != 3 || !slices.Contains(names, newNode) || slices.Contains(names, victim) {
		t.Errorf("members = %v, want 3 with %s and without %s", names, newNode, victim)
	}
	eventually(t, 60*time.Second, "etcd nodes at latest revision", func(ctx context.Context) (bool, string) {
		st, err := staticPodStatus(ctx, c, "etcd")
		if err != nil {
			return false, err.Error()
		}
		cond := operatorCondition(st.Conditions, condNodeInstallerProgressing)
		if cond == nil {
			return false, "no condition"
		}
		return cond.Reason == reasonAllNodesAtLatest && cond.Message == fmt.Sprintf("3 nodes are at revision %d", st.LatestAvailableRevision), cond.Message
	})
}
