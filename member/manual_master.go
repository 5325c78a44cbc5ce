package member

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/internal/controlplane"
)

// manualMaster is 2.4.1 step 3 on a cluster whose masters have no Machine:
// the administrator creates the new master the way the original one was
// created. It returns at once when a new Ready master node is already
// there (a plan run again after the manual step), else reports the manual
// step and waits up to WaitForNewMaster for one; without a wait it returns
// nm, which names the manual step.
func (r *replacement) manualMaster(ctx context.Context, nm *NoMachineError, progress func(string)) error {
	if n, err := r.newMasterNode(ctx); err != nil || n != "" {
		if n != "" {
			r.newNode = n
			progress("new master node " + n + " is Ready; the etcd cluster Operator adds it as a member")
		}
		return err
	}
	msg := fmt.Sprintf("MANUAL STEP: %s has no Machine; create the new master the way the original one was created "+
		"(user-provisioned infrastructure or bare metal), approve its CSRs if asked; ", r.o.Node)
	if r.o.WaitForNewMaster <= 0 {
		progress(msg + "then run this plan again")
		return nm
	}
	progress(msg + fmt.Sprintf("waiting up to %s for a new Ready master node", r.o.WaitForNewMaster))
	err := wait.PollUntilContextTimeout(ctx, r.o.Interval, r.o.WaitForNewMaster, false, func(ctx context.Context) (bool, error) {
		n, err := r.newMasterNode(ctx)
		if err != nil || n == "" {
			return false, nil // the API may be busy: keep waiting
		}
		r.newNode = n
		progress("new master node " + n + " is Ready; the etcd cluster Operator adds it as a member")
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("member: no new master node became Ready within %s: %w (%w)", r.o.WaitForNewMaster, err, nm)
	}
	return nil
}

// newMasterNode returns the newest Ready master node other than the one
// replaced, once there are ExpectedMembers of them (the survivors and the
// new one); "" before.
func (r *replacement) newMasterNode(ctx context.Context) (string, error) {
	nodes, err := controlplane.Nodes(ctx, r.deps.Kube)
	if err != nil {
		return "", fmt.Errorf("member: %w", err)
	}
	var ready []corev1.Node
	for _, n := range nodes {
		if c := nodeReady(&n); n.Name != r.o.Node && c != nil && c.Status == corev1.ConditionTrue {
			ready = append(ready, n)
		}
	}
	if len(ready) < r.o.ExpectedMembers {
		return "", nil
	}
	newest := slices.MaxFunc(ready, func(a, b corev1.Node) int {
		return a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time)
	})
	return newest.Name, nil
}
