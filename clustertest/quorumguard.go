package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	operatorv1 "github.com/openshift/api/operator/v1"
	"go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/lifeboat-dev/lifeboat/release"
)

// The etcd quorum guard, for releases that have it (quorumGuardMinor and
// later). cluster-etcd-operator's revision controller makes no new etcd
// revision unless the cluster is safe to scale (ceohelpers'
// CheckSafeToScaleCluster with the HA strategy: enough healthy members to
// lose one and keep quorum), and the override
// spec.unsupportedConfigOverrides.useUnsupportedUnsafeNonHANonProductionUnstableEtcd
// (true, or a string ParseBool takes as true) turns the check off (the
// "unsafe" strategy). The simulation plays it as: a new etcd revision
// (forced redeployment, new master, membership change) is held back while
// fewer voting members answer a linearizable read than there are masters,
// unless the override is set; the Etcd object shows it as the condition
// RevisionControllerDegraded (True, reason QuorumGuard, with the check's
// message), which makes the ClusterOperator etcd Degraded, and the
// forceRedeploymentReason stays unobserved until the guard lets it
// through.
//
// For the etcd-only generation (4.18+) the operator also makes a new
// revision on its own when a master has no etcd member while every node
// is at the latest revision and nothing is being installed (the real
// operator's endpoints change after a restore left one member): that is
// what starts the other members after a 4.18+ restore, once the guard is
// off.

// quorumGuardMinor is the first 4.y release simulated with the guard.
// The override and the bootstrap scaling strategies are older; 4.14 is
// the first release branch this simulation claims it for.
const quorumGuardMinor = 14

const (
	condRevisionControllerDegraded = "RevisionControllerDegraded"
	quorumGuardKey                 = "useUnsupportedUnsafeNonHANonProductionUnstableEtcd"
)

func init() {
	etcdOperator.mayRoll = func(ctx context.Context, c *Cluster, o *staticPodObject) bool {
		return c.quorumGuardAllows(ctx, o)
	}
	etcdOperator.wantsRevision = func(ctx context.Context, c *Cluster, o *staticPodObject) bool {
		return c.etcdMembershipWantsRevision(ctx, o)
	}
}

// hasQuorumGuard reports whether the cluster's release has the guard.
func (c *Cluster) hasQuorumGuard() bool {
	v, err := release.ParseVersion(c.opts.ClusterVersion)
	return err == nil && (v.Major > 4 || v.Minor >= quorumGuardMinor)
}

// setGuard records the guard's verdict for the Etcd object's condition.
func (c *Cluster) setGuard(msg string) {
	s := c.sim()
	s.mu.Lock()
	s.guardBlocked = msg
	s.mu.Unlock()
}

func (c *Cluster) guardRefusal() string {
	s := c.sim()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.guardBlocked
}

// quorumGuardOverridden reads the override as cluster-etcd-operator does.
func quorumGuardOverridden(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return false
	}
	switch v := m[quorumGuardKey].(type) {
	case bool:
		return v
	case string:
		b, err := strconv.ParseBool(v)
		return err == nil && b
	}
	return false
}

// quorumGuardAllows is the revision controller's precondition for etcd.
func (c *Cluster) quorumGuardAllows(ctx context.Context, o *staticPodObject) bool {
	if !c.hasQuorumGuard() {
		return true
	}
	e, ok := o.obj.(*operatorv1.Etcd)
	if ok && quorumGuardOverridden(e.Spec.UnsupportedConfigOverrides.Raw) {
		c.setGuard("")
		return true
	}
	masters, err := c.masterNodes(ctx)
	if err != nil {
		c.setGuard("CheckSafeToScaleCluster couldn't list the masters: " + err.Error())
		return false
	}
	members, err := c.memberList(ctx)
	if err != nil {
		c.setGuard("CheckSafeToScaleCluster couldn't determine member health: " + err.Error())
		return false
	}
	healthy := 0
	for _, m := range members {
		if m.IsLearner || m.Name == "" || len(m.ClientURLs) == 0 {
			continue
		}
		if c.memberHealthy(ctx, m.ClientURLs[0], false) {
			healthy++
		}
	}
	need := len(masters)
	if healthy < need {
		c.setGuard(fmt.Sprintf("CheckSafeToScaleCluster found %d healthy member(s) out of the %d required by the HAScalingStrategy "+
			"(set spec.unsupportedConfigOverrides.%s to roll a new revision anyway)", healthy, need, quorumGuardKey))
		return false
	}
	c.setGuard("")
	return true
}

// quorumGuardCondition is the Etcd object's condition for the guard's
// last verdict (for releases without the guard: none).
func (c *Cluster) quorumGuardCondition() []operatorv1.OperatorCondition {
	if !c.hasQuorumGuard() {
		return nil
	}
	cond := operatorv1.OperatorCondition{Type: condRevisionControllerDegraded, Status: operatorv1.ConditionFalse, Reason: "AsExpected"}
	if msg := c.guardRefusal(); msg != "" {
		cond.Status, cond.Reason, cond.Message = operatorv1.ConditionTrue, "QuorumGuard", msg
	}
	return []operatorv1.OperatorCondition{cond}
}

// etcdMembershipWantsRevision: for the etcd-only generation, a master
// without an etcd member while the rollout is at rest asks for a new
// revision.
func (c *Cluster) etcdMembershipWantsRevision(ctx context.Context, o *staticPodObject) bool {
	if c.generation() != release.GenerationEtcdOnly || o.status.LatestAvailableRevision == 0 {
		return false
	}
	for _, ns := range o.status.NodeStatuses {
		if ns.CurrentRevision != o.status.LatestAvailableRevision || ns.TargetRevision != 0 {
			return false
		}
	}
	s := c.sim()
	s.mu.Lock()
	busy := s.rollouts[etcdOperator.name] != nil
	s.mu.Unlock()
	if busy {
		return false
	}
	members, err := c.memberList(ctx)
	if err != nil {
		return false
	}
	masters, err := c.masterNodes(ctx)
	if err != nil {
		return false
	}
	for _, n := range masters {
		h := c.Host(n)
		if h == nil || !h.Powered() {
			continue
		}
		peer := h.EtcdPeerURL()
		if !slices.ContainsFunc(members, func(m *etcdserverpb.Member) bool { return m.Name == n || slices.Contains(m.PeerURLs, peer) }) {
			return true
		}
	}
	return false
}
