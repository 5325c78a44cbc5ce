// The etcd operator's learners: promoting the members it added as
// learners, the client it uses for member management, and the events it
// records.

package clustertest

import (
	"context"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons of the events the simulated etcd operator records in
// openshift-etcd-operator (involved object: its Deployment etcd-operator)
// when it adds a member as a learner and when it promotes it, as
// cluster-etcd-operator's cluster member controller does. Tests list them
// to see the order: MemberAddAsLearner, then MemberPromote.
const (
	eventMemberAddAsLearner = "MemberAddAsLearner"
	eventMemberPromote      = "MemberPromote"
	// eventMemberRemove: a learner whose host is gone was removed.
	eventMemberRemove = "MemberRemove"

	nsEtcdOperator = names.EtcdOperatorNamespace
	// votersKey caches the client over the voting members' client URLs.
	votersKey = "voters"
)

// etcdVotersClient is a client over the client URLs of the started voting
// members: member management (add, promote) must not go to a learner,
// which refuses it.
func (c *Cluster) etcdVotersClient(members []*etcdserverpb.Member) (*clientv3.Client, error) {
	var eps []string
	for _, m := range members {
		if !m.IsLearner && m.Name != "" {
			eps = append(eps, m.ClientURLs...)
		}
	}
	if len(eps) == 0 {
		return nil, errors.New("no started voting etcd member")
	}
	return c.etcdClientFor(votersKey, eps)
}

// errLearnerPending: a member is not added while another is a learner.
var errLearnerPending = errors.New("waiting for the pending etcd learner to start and be promoted")

// firstLearner is the first learner in members, or nil.
func firstLearner(members []*etcdserverpb.Member) *etcdserverpb.Member {
	for _, m := range members {
		if m.IsLearner {
			return m
		}
	}
	return nil
}

// reconcileLearners removes the learners of hosts that are gone, then
// promotes the started, caught-up ones. Failures are logged only.
func (c *Cluster) reconcileLearners(ctx context.Context) {
	c.removeOrphanLearners(ctx)
	c.promoteLearners(ctx)
}

// removeOrphanLearners removes every learner whose peer URL is no master
// host's (its machine was deleted, or the host lost, before it started or
// was promoted), as cluster-etcd-operator removes the members of machines
// that are gone; otherwise it would hold etcd's single learner slot and no
// replacement master could ever join. A learner does not vote, so removing
// it never costs quorum. Voting members are left to the tool under test.
func (c *Cluster) removeOrphanLearners(ctx context.Context) {
	members, err := c.memberList(ctx)
	if err != nil {
		return
	}
	log := c.controllerLogger()
	for _, m := range members {
		if !m.IsLearner || c.nodeForPeerURL(m.PeerURLs) != "" {
			continue
		}
		cl, err := c.etcdVotersClient(members)
		if err != nil {
			log.Debug("removing orphaned etcd learner", "member", memberDisplayName(m), "err", err)
			return
		}
		rctx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
		_, err = cl.MemberRemove(rctx, m.ID)
		cancel()
		if err != nil {
			log.Debug("removing orphaned etcd learner", "member", memberDisplayName(m), "err", err)
			continue
		}
		log.Info("orphaned etcd learner removed", "member", memberDisplayName(m), "id", fmt.Sprintf("%x", m.ID))
		c.etcdOperatorEvent(ctx, eventMemberRemove, fmt.Sprintf("removed learner member %s (%x): no master host has its peer URL %v", memberDisplayName(m), m.ID, m.PeerURLs))
	}
}

// promoteLearners promotes every started learner that answers a
// serializable read. etcd refuses (ErrLearnerNotReady) until the learner
// has caught up with the leader; the next pass tries again. Failures are
// logged only: the operator's other work goes on.
func (c *Cluster) promoteLearners(ctx context.Context) {
	members, err := c.memberList(ctx)
	if err != nil {
		return
	}
	log := c.controllerLogger()
	for _, m := range members {
		if !m.IsLearner || m.Name == "" || len(m.ClientURLs) == 0 {
			continue
		}
		if !c.memberHealthy(ctx, m.ClientURLs[0], true) {
			continue
		}
		cl, err := c.etcdVotersClient(members)
		if err != nil {
			log.Debug("promoting etcd learner", "member", m.Name, "err", err)
			return
		}
		pctx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
		_, err = cl.MemberPromote(pctx, m.ID)
		cancel()
		switch {
		case err == nil:
			log.Info("etcd learner promoted", "member", m.Name, "id", fmt.Sprintf("%x", m.ID))
			c.etcdOperatorEvent(ctx, eventMemberPromote, fmt.Sprintf("promoted learner member %s (%x) to a voting member", m.Name, m.ID))
		case errors.Is(err, rpctypes.ErrGRPCLearnerNotReady), errors.Is(err, rpctypes.ErrMemberLearnerNotReady):
			log.Debug("etcd learner not caught up yet", "member", m.Name)
		default:
			log.Debug("promoting etcd learner", "member", m.Name, "err", err)
		}
	}
}

// etcdOperatorEvent records a Normal event of the etcd operator, best
// effort (the API may be unavailable while etcd is degraded).
func (c *Cluster) etcdOperatorEvent(ctx context.Context, reason, msg string) {
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "etcd-operator.", Namespace: nsEtcdOperator},
		InvolvedObject: corev1.ObjectReference{
			Kind: "Deployment", APIVersion: "apps/v1", Namespace: nsEtcdOperator, Name: "etcd-operator",
		},
		Reason: reason, Message: msg, Type: corev1.EventTypeNormal, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "openshift-cluster-etcd-operator-clustermembercontroller"},
	}
	ectx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
	defer cancel()
	if _, err := c.ctlKube().CoreV1().Events(nsEtcdOperator).Create(ectx, ev, metav1.CreateOptions{}); err != nil {
		c.controllerLogger().Debug("recording etcd operator event", "reason", reason, "err", err)
	}
}
