package clustertest

import (
	"context"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	operatorv1 "github.com/openshift/api/operator/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// The static pod operators (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler) share library-go's revision and installer controllers; the
// simulation plays them the same way:
//
//   - a new spec.forceRedeploymentReason (one not seen before) makes a new
//     revision: status.latestAvailableRevision goes up by one;
//   - nodes not at the latest revision are moved one at a time: the node's
//     nodeStatuses[].targetRevision is set, the revision's files are written
//     under /etc/kubernetes/static-pod-resources/<component>-pod-N and the
//     live manifest into /etc/kubernetes/manifests on that host, and once the
//     operand runs the new revision, currentRevision is set and
//     targetRevision cleared;
//   - NodeInstallerProgressing is True (reason NodeInstaller) while a node is
//     behind, with library-go's message ("2 nodes are at revision 6; 1 nodes
//     are at revision 7"), and False with reason AllNodesAtLatestRevision
//     ("3 nodes are at revision 7") when all are at the latest;
//   - nodeStatuses follow the master Nodes: a new master gets an entry (and
//     the latest revision installed), a deleted one loses it.
//
// A node whose machine is powered off is not installed until it is on again
// (its installer pod could not run), so a rollout waits for it.
//
// The last forceRedeploymentReason acted upon and the revision it made are
// kept in annotations on the operator object, so the simulation picks up
// where it was after a restore brings back an older object.

const (
	annoObservedReason   = "clustertest.lifeboat.dev/observed-force-redeployment-reason"
	annoObservedRevision = "clustertest.lifeboat.dev/observed-revision"

	condNodeInstallerProgressing = "NodeInstallerProgressing"
	reasonNodeInstaller          = "NodeInstaller"
	reasonAllNodesAtLatest       = "AllNodesAtLatestRevision"

	masterRoleLabel = names.MasterLabel
)

// staticPodObject is one of the four operator objects, seen through the parts
// they share.
type staticPodObject struct {
	obj    any
	meta   *metav1.ObjectMeta
	spec   *operatorv1.StaticPodOperatorSpec
	status *operatorv1.StaticPodOperatorStatus
}

// staticPodOperator describes one static pod operator.
type staticPodOperator struct {
	// name is the ClusterOperator's name and the rollout key.
	name string
	// component is the static pod's name: manifests/<component>-pod.yaml.
	component string

	// mayRoll, when set, is the revision controller's precondition: a new
	// revision is made only when it returns true (etcd's quorum guard,
	// quorumguard.go); a refused one is tried again on the next pass.
	mayRoll func(ctx context.Context, c *Cluster, o *staticPodObject) bool
	// wantsRevision, when set, asks for a new revision beyond forced
	// redeployments and new masters (etcd's membership, quorumguard.go).
	wantsRevision func(ctx context.Context, c *Cluster, o *staticPodObject) bool

	get          func(ctx context.Context, c *Cluster) (*staticPodObject, error)
	update       func(ctx context.Context, c *Cluster, o *staticPodObject) (*staticPodObject, error)
	updateStatus func(ctx context.Context, c *Cluster, o *staticPodObject) (*staticPodObject, error)
}

// installing is the node a rollout is moving.
type installing struct {
	node     string
	revision int32
	started  time.Time
}

// staticPodInstaller installs a revision of a component on a node.
type staticPodInstaller interface {
	// start writes the revision's files and manifest on node's host.
	start(ctx context.Context, node string, h *Host, revision int32) error
	// done reports whether node runs revision.
	done(ctx context.Context, node string, h *Host, revision int32, since time.Time) (bool, error)
	// firstChoices names nodes to install before the others, in order.
	firstChoices(ctx context.Context) []string
	// newRevisionForNewNode reports whether a new master makes a new
	// revision (etcd: its initial cluster changes) rather than just getting
	// the latest one installed.
	newRevisionForNewNode() bool
}

// operatorClient is the part of a typed operator client the simulation uses.
type operatorClient[T any] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	UpdateStatus(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// newStaticPodOperator describes the operator of component whose object
// "cluster" is reached through client and seen through wrap.
func newStaticPodOperator[T any](component string, client func(*Cluster) operatorClient[T], wrap func(T) *staticPodObject) *staticPodOperator {
	return &staticPodOperator{
		name: component, component: component,
		get: func(ctx context.Context, c *Cluster) (*staticPodObject, error) {
			o, err := client(c).Get(ctx, "cluster", metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return wrap(o), nil
		},
		update: func(ctx context.Context, c *Cluster, o *staticPodObject) (*staticPodObject, error) {
			u, err := client(c).Update(ctx, o.obj.(T), metav1.UpdateOptions{})
			if err != nil {
				return nil, err
			}
			return wrap(u), nil
		},
		updateStatus: func(ctx context.Context, c *Cluster, o *staticPodObject) (*staticPodObject, error) {
			u, err := client(c).UpdateStatus(ctx, o.obj.(T), metav1.UpdateOptions{})
			if err != nil {
				return nil, err
			}
			return wrap(u), nil
		},
	}
}

var (
	kubeAPIServerOperator = newStaticPodOperator("kube-apiserver",
		func(c *Cluster) operatorClient[*operatorv1.KubeAPIServer] {
			return c.ctlOperator().OperatorV1().KubeAPIServers()
		},
		func(o *operatorv1.KubeAPIServer) *staticPodObject {
			return &staticPodObject{obj: o, meta: &o.ObjectMeta, spec: &o.Spec.StaticPodOperatorSpec, status: &o.Status.StaticPodOperatorStatus}
		})
	kubeControllerManagerOperator = newStaticPodOperator("kube-controller-manager",
		func(c *Cluster) operatorClient[*operatorv1.KubeControllerManager] {
			return c.ctlOperator().OperatorV1().KubeControllerManagers()
		},
		func(o *operatorv1.KubeControllerManager) *staticPodObject {
			return &staticPodObject{obj: o, meta: &o.ObjectMeta, spec: &o.Spec.StaticPodOperatorSpec, status: &o.Status.StaticPodOperatorStatus}
		})
	kubeSchedulerOperator = newStaticPodOperator("kube-scheduler",
		func(c *Cluster) operatorClient[*operatorv1.KubeScheduler] {
			return c.ctlOperator().OperatorV1().KubeSchedulers()
		},
		func(o *operatorv1.KubeScheduler) *staticPodObject {
			return &staticPodObject{obj: o, meta: &o.ObjectMeta, spec: &o.Spec.StaticPodOperatorSpec, status: &o.Status.StaticPodOperatorStatus}
		})
)

// staticPodOperatorSync returns the reconcile pass of op for a component
// whose manifest is just a file (no process checks).
func (c *Cluster) staticPodOperatorSync(op *staticPodOperator) func(context.Context) error {
	inst := &fileInstaller{c: c, component: op.component}
	return func(ctx context.Context) error {
		o, err := c.syncStaticPodOperator(ctx, op, inst)
		if err != nil {
			return err
		}
		return c.syncClusterOperator(ctx, op.name, staticPodClusterOperatorConditions(o.status, nil))
	}
}

// masterNodes lists the names of the Nodes with the master role, sorted.
// The list is shared by the controllers for one tick, so the four operators
// make one request between them.
func (c *Cluster) masterNodes(ctx context.Context) ([]string, error) {
	s := c.sim()
	s.mu.Lock()
	if time.Since(s.mastersAt) < c.controllerInterval()/2 {
		names := slices.Clone(s.masters)
		s.mu.Unlock()
		return names, nil
	}
	s.mu.Unlock()
	nodes, err := c.ctlKube().CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: masterRoleLabel})
	if err != nil {
		return nil, fmt.Errorf("listing master nodes: %w", err)
	}
	var names []string
	for _, n := range nodes.Items {
		if n.DeletionTimestamp == nil {
			names = append(names, n.Name)
		}
	}
	slices.Sort(names)
	s.mu.Lock()
	s.masters, s.mastersAt = slices.Clone(names), time.Now()
	s.mu.Unlock()
	return names, nil
}

// syncStaticPodOperator is one pass of op's revision and installer
// controllers. It returns the object as last written.
func (c *Cluster) syncStaticPodOperator(ctx context.Context, op *staticPodOperator, inst staticPodInstaller) (*staticPodObject, error) {
	o, err := op.get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("getting %s operator: %w", op.name, err)
	}
	masters, err := c.masterNodes(ctx)
	if err != nil {
		return nil, err
	}

	// Node statuses follow the master nodes. A new entry cannot carry
	// revisions on creation, so it is written on its own first.
	st := o.status
	var added []string
	kept := st.NodeStatuses[:0:0]
	for _, ns := range st.NodeStatuses {
		if slices.Contains(masters, ns.NodeName) {
			kept = append(kept, ns)
		}
	}
	for _, m := range masters {
		if !slices.ContainsFunc(kept, func(ns operatorv1.NodeStatus) bool { return ns.NodeName == m }) {
			kept = append(kept, operatorv1.NodeStatus{NodeName: m})
			added = append(added, m)
		}
	}
	if len(kept) != len(st.NodeStatuses) || len(added) > 0 {
		st.NodeStatuses = kept
		if o, err = op.updateStatus(ctx, c, o); err != nil {
			return nil, fmt.Errorf("updating %s node statuses: %w", op.name, err)
		}
		st = o.status
		if len(added) > 0 && inst.newRevisionForNewNode() && st.LatestAvailableRevision > 0 && op.rollAllowed(ctx, c, o) {
			if o, err = c.newRevision(ctx, op, o, false); err != nil {
				return nil, err
			}
			st = o.status
		}
	}

	// A new forceRedeploymentReason makes a new revision.
	observed, seen := o.meta.Annotations[annoObservedReason]
	switch {
	case !seen:
		// First sight: the current reason was already acted upon.
		if o, err = c.markObserved(ctx, op, o, st.LatestAvailableRevision); err != nil {
			return nil, err
		}
		st = o.status
	case observed != o.spec.ForceRedeploymentReason:
		if !op.rollAllowed(ctx, c, o) {
			break // the reason stays unobserved: tried again next pass
		}
		if o, err = c.newRevision(ctx, op, o, true); err != nil {
			return nil, err
		}
		st = o.status
	case op.wantsRevision != nil && op.wantsRevision(ctx, c, o) && op.rollAllowed(ctx, c, o):
		if o, err = c.newRevision(ctx, op, o, false); err != nil {
			return nil, err
		}
		st = o.status
	}
	if rev, err := strconv.ParseInt(o.meta.Annotations[annoObservedRevision], 10, 32); err == nil && int32(rev) > st.LatestAvailableRevision {
		st.LatestAvailableRevision = int32(rev)
		st.LatestAvailableRevisionReason = "forced redeployment or configuration change"
		if o, err = op.updateStatus(ctx, c, o); err != nil {
			return nil, fmt.Errorf("updating %s latest revision: %w", op.name, err)
		}
		st = o.status
	}

	before := st.DeepCopy()
	if err := c.progressInstall(ctx, op, inst, st); err != nil {
		return nil, err
	}
	setNodeInstallerProgressing(st)
	if !equality.Semantic.DeepEqual(before, st) {
		if o, err = op.updateStatus(ctx, c, o); err != nil {
			return nil, fmt.Errorf("updating %s status: %w", op.name, err)
		}
	}
	return o, nil
}

// rollAllowed is op's revision precondition (always true without one).
func (op *staticPodOperator) rollAllowed(ctx context.Context, c *Cluster, o *staticPodObject) bool {
	return op.mayRoll == nil || op.mayRoll(ctx, c, o)
}

// observeInitialReason marks op's current forceRedeploymentReason as acted
// upon, unless an earlier run (or a restored object) already recorded one.
func (c *Cluster) observeInitialReason(ctx context.Context, op *staticPodOperator) error {
	// retry.OnError would sleep through a cancelled ctx: back off with it.
	var last error
	err := wait.ExponentialBackoffWithContext(ctx, retry.DefaultBackoff, func(ctx context.Context) (bool, error) {
		o, err := op.get(ctx, c)
		if err == nil {
			if _, seen := o.meta.Annotations[annoObservedReason]; seen {
				return true, nil
			}
			_, err = c.markObserved(ctx, op, o, o.status.LatestAvailableRevision)
		}
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err):
			last = err
			return false, nil
		}
		return false, err
	})
	if err != nil && last != nil && wait.Interrupted(err) {
		err = fmt.Errorf("%w (last error: %w)", err, last)
	}
	if err != nil {
		return fmt.Errorf("clustertest: %s operator: %w", op.name, err)
	}
	return nil
}

// markObserved records that o's current forceRedeploymentReason was acted
// upon with revision.
func (c *Cluster) markObserved(ctx context.Context, op *staticPodOperator, o *staticPodObject, revision int32) (*staticPodObject, error) {
	if o.meta.Annotations == nil {
		o.meta.Annotations = map[string]string{}
	}
	o.meta.Annotations[annoObservedReason] = o.spec.ForceRedeploymentReason
	o.meta.Annotations[annoObservedRevision] = strconv.Itoa(int(revision))
	u, err := op.update(ctx, c, o)
	if err != nil {
		return nil, fmt.Errorf("annotating %s operator: %w", op.name, err)
	}
	return u, nil
}

// newRevision records a new revision for op (for a new
// forceRedeploymentReason when forced, else for a configuration change).
func (c *Cluster) newRevision(ctx context.Context, op *staticPodOperator, o *staticPodObject, forced bool) (*staticPodObject, error) {
	rev := o.status.LatestAvailableRevision
	if r, err := strconv.ParseInt(o.meta.Annotations[annoObservedRevision], 10, 32); err == nil && int32(r) > rev {
		rev = int32(r)
	}
	rev++
	if !forced {
		// Keep the observed reason; only the revision moves.
		if o.meta.Annotations == nil {
			o.meta.Annotations = map[string]string{}
		}
		o.meta.Annotations[annoObservedRevision] = strconv.Itoa(int(rev))
		u, err := op.update(ctx, c, o)
		if err != nil {
			return nil, fmt.Errorf("annotating %s operator: %w", op.name, err)
		}
		return u, nil
	}
	return c.markObserved(ctx, op, o, rev)
}

// progressInstall advances the rollout of op by at most one node.
func (c *Cluster) progressInstall(ctx context.Context, op *staticPodOperator, inst staticPodInstaller, st *operatorv1.StaticPodOperatorStatus) error {
	s := c.sim()
	s.mu.Lock()
	cur := s.rollouts[op.name]
	s.mu.Unlock()
	setRollout := func(in *installing) {
		s.mu.Lock()
		if in == nil {
			delete(s.rollouts, op.name)
		} else {
			s.rollouts[op.name] = in
		}
		s.mu.Unlock()
	}
	latest := st.LatestAvailableRevision
	if latest == 0 {
		return nil
	}
	idx := func(node string) int {
		return slices.IndexFunc(st.NodeStatuses, func(ns operatorv1.NodeStatus) bool { return ns.NodeName == node })
	}

	if cur != nil {
		i := idx(cur.node)
		switch {
		case i < 0:
			setRollout(nil) // node went away
		case cur.revision != latest:
			// A newer revision superseded this install: start over.
			st.NodeStatuses[i].TargetRevision = 0
			setRollout(nil)
		default:
			h := c.Host(cur.node)
			if h == nil {
				setRollout(nil)
				break
			}
			ok, err := inst.done(ctx, cur.node, h, cur.revision, cur.started)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", op.name, cur.node, err)
			}
			if !ok {
				return nil
			}
			ns := &st.NodeStatuses[i]
			if ns.CurrentRevision < cur.revision {
				ns.CurrentRevision = cur.revision
			}
			ns.TargetRevision = 0
			setRollout(nil)
			return nil // one step per pass
		}
	}

	// Pick the next node behind the latest revision whose machine is up:
	// the installer's first choices, then the oldest revision, then by name.
	var candidates []int
	for i := range st.NodeStatuses {
		ns := &st.NodeStatuses[i]
		if ns.CurrentRevision >= latest {
			ns.TargetRevision = 0
			continue
		}
		if h := c.Host(ns.NodeName); h != nil && h.Powered() {
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return nil
	}
	first := inst.firstChoices(ctx)
	rank := func(node string) int { // first choices in their order, then the rest
		if i := slices.Index(first, node); i >= 0 {
			return i
		}
		return len(first)
	}
	slices.SortStableFunc(candidates, func(a, b int) int {
		na, nb := st.NodeStatuses[a], st.NodeStatuses[b]
		switch ra, rb := rank(na.NodeName), rank(nb.NodeName); {
		case ra != rb:
			return ra - rb
		case na.CurrentRevision != nb.CurrentRevision:
			return int(na.CurrentRevision - nb.CurrentRevision)
		}
		return strings.Compare(na.NodeName, nb.NodeName)
	})
	ns := &st.NodeStatuses[candidates[0]]
	for j := range st.NodeStatuses {
		st.NodeStatuses[j].TargetRevision = 0
	}
	if err := inst.start(ctx, ns.NodeName, c.Host(ns.NodeName), latest); err != nil {
		return fmt.Errorf("installing %s revision %d on %s: %w", op.name, latest, ns.NodeName, err)
	}
	ns.TargetRevision = latest
	setRollout(&installing{node: ns.NodeName, revision: latest, started: time.Now()})
	return nil
}

// setNodeInstallerProgressing sets the NodeInstallerProgressing condition
// from the node statuses, in library-go's words.
func setNodeInstallerProgressing(st *operatorv1.StaticPodOperatorStatus) {
	counts := map[int32]int{}
	behind := 0
	for _, ns := range st.NodeStatuses {
		counts[ns.CurrentRevision]++
		if ns.CurrentRevision != st.LatestAvailableRevision {
			behind++
		}
	}
	var revs []int32
	for r := range counts {
		revs = append(revs, r)
	}
	slices.Sort(revs)
	var parts []string
	for _, r := range revs {
		parts = append(parts, fmt.Sprintf("%d nodes are at revision %d", counts[r], r))
	}
	if behind > 0 && counts[st.LatestAvailableRevision] == 0 {
		parts = append(parts, fmt.Sprintf("0 nodes have achieved new revision %d", st.LatestAvailableRevision))
	}
	msg := strings.Join(parts, "; ")
	cond := operatorv1.OperatorCondition{Type: condNodeInstallerProgressing, Status: operatorv1.ConditionFalse, Reason: reasonAllNodesAtLatest, Message: msg}
	if behind > 0 {
		cond.Status, cond.Reason = operatorv1.ConditionTrue, reasonNodeInstaller
	}
	setOperatorCondition(&st.Conditions, cond)
}

// setOperatorCondition sets cond in conds, keeping its transition time
// unless its status changes.
func setOperatorCondition(conds *[]operatorv1.OperatorCondition, cond operatorv1.OperatorCondition) {
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	for i := range *conds {
		old := &(*conds)[i]
		if old.Type != cond.Type {
			continue
		}
		if old.Status != cond.Status {
			old.LastTransitionTime = now
		}
		old.Status, old.Reason, old.Message = cond.Status, cond.Reason, cond.Message
		return
	}
	cond.LastTransitionTime = now
	*conds = append(*conds, cond)
}

// operatorCondition finds the condition of type t.
func operatorCondition(conds []operatorv1.OperatorCondition, t string) *operatorv1.OperatorCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// staticPodClusterOperatorConditions derives the ClusterOperator's
// Available, Progressing and Degraded conditions from the operator status the
// way library-go's status controller unions them (type prefix in messages,
// "<Condition>_<Reason>" reasons). extraDegraded are further *Degraded
// operator conditions (etcd's EtcdMembersDegraded).
func staticPodClusterOperatorConditions(st *operatorv1.StaticPodOperatorStatus, extra []operatorv1.OperatorCondition) []configv1.ClusterOperatorStatusCondition {
	prog := operatorCondition(st.Conditions, condNodeInstallerProgressing)
	progressing := configv1.ClusterOperatorStatusCondition{Type: configv1.OperatorProgressing, Status: configv1.ConditionFalse, Reason: "AsExpected"}
	if prog != nil {
		progressing.Message = condNodeInstallerProgressing + ": " + prog.Message
		if prog.Status == operatorv1.ConditionTrue {
			progressing.Status, progressing.Reason = configv1.ConditionTrue, condNodeInstallerProgressing+"_"+prog.Reason
		}
	}
	active := 0
	for _, ns := range st.NodeStatuses {
		if ns.CurrentRevision > 0 {
			active++
		}
	}
	available := configv1.ClusterOperatorStatusCondition{Type: configv1.OperatorAvailable, Status: configv1.ConditionTrue, Reason: "AsExpected"}
	var availMsgs []string
	if prog != nil {
		availMsgs = append(availMsgs, fmt.Sprintf("StaticPodsAvailable: %d nodes are active; %s", active, prog.Message))
	}
	if active == 0 {
		available.Status, available.Reason = configv1.ConditionFalse, "StaticPods_ZeroNodesActive"
	}
	degraded := configv1.ClusterOperatorStatusCondition{Type: configv1.OperatorDegraded, Status: configv1.ConditionFalse, Reason: "AsExpected"}
	var degMsgs []string
	for _, e := range extra {
		switch {
		case strings.HasSuffix(e.Type, "Degraded"):
			degMsgs = append(degMsgs, e.Type+": "+e.Message)
			if e.Status == operatorv1.ConditionTrue {
				degraded.Status = configv1.ConditionTrue
				degraded.Reason = strings.TrimSuffix(e.Type, "Degraded") + "_" + e.Reason
			}
		case strings.HasSuffix(e.Type, "Available"):
			availMsgs = append(availMsgs, e.Type+": "+e.Message)
			if e.Status != operatorv1.ConditionTrue {
				available.Status = configv1.ConditionFalse
				available.Reason = strings.TrimSuffix(e.Type, "Available") + "_" + strings.ReplaceAll(e.Reason, " ", "")
			}
		}
	}
	available.Message = strings.Join(availMsgs, "\n")
	degraded.Message = strings.Join(degMsgs, "\n")
	return []configv1.ClusterOperatorStatusCondition{available, progressing, degraded}
}

// syncClusterOperator writes conds into the ClusterOperator name, only when
// something changed. A missing ClusterOperator is left alone.
func (c *Cluster) syncClusterOperator(ctx context.Context, name string, conds []configv1.ClusterOperatorStatusCondition) error {
	// Conditions written (or found right) less than clusterOperatorRecheck
	// ago are not fetched again.
	s := c.sim()
	s.mu.Lock()
	last := s.coWritten[name]
	s.mu.Unlock()
	if last != nil && time.Since(last.at) < clusterOperatorRecheck && equality.Semantic.DeepEqual(last.conds, conds) {
		return nil
	}
	remember := func() {
		s.mu.Lock()
		s.coWritten[name] = &writtenConditions{conds: conds, at: time.Now()}
		s.mu.Unlock()
	}
	co, err := c.ctlConfig().ConfigV1().ClusterOperators().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting clusteroperator %s: %w", name, err)
	}
	changed := false
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	for _, want := range conds {
		i := slices.IndexFunc(co.Status.Conditions, func(x configv1.ClusterOperatorStatusCondition) bool { return x.Type == want.Type })
		if i < 0 {
			want.LastTransitionTime = now
			co.Status.Conditions = append(co.Status.Conditions, want)
			changed = true
			continue
		}
		have := &co.Status.Conditions[i]
		if have.Status == want.Status && have.Reason == want.Reason && have.Message == want.Message {
			continue
		}
		if have.Status != want.Status {
			have.LastTransitionTime = now
		}
		have.Status, have.Reason, have.Message = want.Status, want.Reason, want.Message
		changed = true
	}
	if !changed {
		remember()
		return nil
	}
	if _, err := c.ctlConfig().ConfigV1().ClusterOperators().UpdateStatus(ctx, co, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating clusteroperator %s: %w", name, err)
	}
	remember()
	return nil
}

// clusterOperatorRecheck is how long conditions known to be written are
// trusted before the ClusterOperator is read again.
const clusterOperatorRecheck = 5 * time.Second

// writtenConditions are ClusterOperator conditions known to be in the API.
type writtenConditions struct {
	conds []configv1.ClusterOperatorStatusCondition
	at    time.Time
}

// fileInstaller installs a revision of a component that the simulated
// kubelet runs no process for (kube-controller-manager, kube-scheduler) or
// whose single process follows the manifest files (kube-apiserver): the
// revision's files and the live manifest are written, and it is done.
type fileInstaller struct {
	c         *Cluster
	component string
}

func (f *fileInstaller) newRevisionForNewNode() bool { return false }

func (f *fileInstaller) firstChoices(ctx context.Context) []string { return nil }

func (f *fileInstaller) start(ctx context.Context, node string, h *Host, revision int32) error {
	return f.c.writeStaticPodRevision(h, f.component, int(revision))
}

func (f *fileInstaller) done(ctx context.Context, node string, h *Host, revision int32, since time.Time) (bool, error) {
	b, err := os.ReadFile(hostManifestPath(h, f.component))
	if err != nil {
		return false, nil
	}
	return fileRevision(b) == revision, nil
}

// hostManifestPath is the file of component's live manifest in h's tree.
func hostManifestPath(h *Host, component string) string {
	return filepath.Join(h.Root(), filepath.FromSlash(manifestPath(component)))
}

// hostRevisionDir is the directory of revision of component in h's tree.
func hostRevisionDir(h *Host, component string, revision int32) string {
	return filepath.Join(h.Root(), filepath.FromSlash(revisionDir(component, int(revision))))
}

// fileRevision reads the revision label of a static pod manifest, 0 if
// there is none or it does not parse.
func fileRevision(b []byte) int32 {
	pod, err := parsePodManifest(b)
	if err != nil {
		return 0
	}
	return int32(manifestRevision(pod))
}
