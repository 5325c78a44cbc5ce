package clustertest

import (
	"context"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The etcd operator. On top of the static pod rollout (operator_staticpod.go)
// it does what cluster-etcd-operator does for the runbook:
//
//   - installing a revision on a master whose member is missing from the
//     etcd member list (a replaced machine, a member removed after its data
//     directory was moved aside, the other masters after a restore) first
//     adds the member as a learner (MemberAddAsLearner with the host's peer
//     URL, event MemberAddAsLearner), then writes an etcd-pod.yaml with
//     --initial-cluster-state=existing and the current members as
//     --initial-cluster; the simulated kubelet starts it on an empty data
//     directory and it joins. A learner does not vote, so adding one never
//     costs quorum. Like cluster-etcd-operator it adds one learner at a
//     time (etcd allows one by default): while a member is a learner no
//     other is added, and the master whose member was added but has not
//     started is installed first. Every pass, whatever the installer does,
//     removes each learner whose peer URL is no master host's (event
//     MemberRemove) and promotes each started learner that answers a
//     serializable read (MemberPromote, event MemberPromote; etcd refuses
//     until the learner has caught up with the leader, and the next pass
//     tries again). A stale data directory left on such a host is moved
//     aside to /var/lib/etcd-backup/member-<time>, never deleted. The node
//     is at the new revision once its member is a voter and answers a
//     linearizable read.
//   - a new master Node makes a new revision (its member changes the
//     initial cluster), so a re-created master machine gets its member
//     without a forced redeployment; a member moved aside on an existing
//     node needs the forced redeployment, as in runbook 2.4.2 and 5.3.
//   - EtcdMembersAvailable, EtcdMembersDegraded and EtcdMembersProgressing
//     come from the real members: each started member gets a read on its own
//     client URL with a short timeout (linearizable for a voter,
//     serializable for a learner, as cluster-etcd-operator checks them);
//     quorum counts voters only; the messages are
//     cluster-etcd-operator's ("3 members are available", "2 of 3 members
//     are available, master-1 is unhealthy", "... NAME-PENDING-<host> has
//     not started"). The ClusterOperator etcd's Available and Degraded follow.

const (
	condEtcdMembersAvailable   = "EtcdMembersAvailable"
	condEtcdMembersDegraded    = "EtcdMembersDegraded"
	condEtcdMembersProgressing = "EtcdMembersProgressing"

	etcdHealthTimeout = time.Second
	etcdCallTimeout   = 5 * time.Second
)

var etcdOperator = newStaticPodOperator("etcd",
	func(c *Cluster) operatorClient[*operatorv1.Etcd] { return c.ctlOperator().OperatorV1().Etcds() },
	wrapEtcd)

func wrapEtcd(o *operatorv1.Etcd) *staticPodObject {
	return &staticPodObject{obj: o, meta: &o.ObjectMeta, spec: &o.Spec.StaticPodOperatorSpec, status: &o.Status.StaticPodOperatorStatus}
}

// syncEtcdOperator is one pass of the etcd operator.
func (c *Cluster) syncEtcdOperator(ctx context.Context) error {
	// Learners are promoted and orphaned learners removed whatever the
	// installer does: an install that waits for a learner's promotion
	// (errLearnerPending) must not hold the promotion back.
	c.reconcileLearners(ctx)
	o, err := c.syncStaticPodOperator(ctx, etcdOperator, &etcdInstaller{c: c})
	if err != nil {
		return err
	}
	c.reconcileLearners(ctx)
	conds, err := c.etcdMemberConditions(ctx)
	if err != nil {
		return err
	}
	conds = append(conds, c.quorumGuardCondition()...)
	before := o.status.DeepCopy()
	for _, cond := range conds {
		setOperatorCondition(&o.status.Conditions, cond)
	}
	if !equality.Semantic.DeepEqual(before, o.status) {
		if o, err = etcdOperator.updateStatus(ctx, c, o); err != nil {
			return fmt.Errorf("updating etcd member conditions: %w", err)
		}
	}
	return c.syncClusterOperator(ctx, "etcd", staticPodClusterOperatorConditions(o.status, conds))
}

// etcdEndpoints are the client URLs of the master hosts.
func (c *Cluster) etcdMasterEndpoints(ctx context.Context) ([]string, error) {
	masters, err := c.masterNodes(ctx)
	if err != nil {
		return nil, err
	}
	var eps []string
	for _, m := range masters {
		if h := c.Host(m); h != nil {
			eps = append(eps, h.EtcdClientURL())
		}
	}
	if len(eps) == 0 {
		return nil, errors.New("no master hosts")
	}
	return eps, nil
}

// etcdHealthClient is a cached etcd client for one endpoint (or, under the
// key "*", for all master endpoints).
type etcdHealthClient struct {
	endpoints []string
	client    *clientv3.Client
}

// etcdClientFor returns the cached client under key for endpoints,
// replacing it when the endpoints changed.
func (c *Cluster) etcdClientFor(key string, endpoints []string) (*clientv3.Client, error) {
	s := c.sim()
	s.mu.Lock()
	defer s.mu.Unlock()
	if hc := s.etcdHealth[key]; hc != nil {
		if slices.Equal(hc.endpoints, endpoints) {
			return hc.client, nil
		}
		_ = hc.client.Close()
		delete(s.etcdHealth, key)
	}
	cl, err := newEtcdClient(endpoints, c.EtcdTLS())
	if err != nil {
		return nil, err
	}
	s.etcdHealth[key] = &etcdHealthClient{endpoints: slices.Clone(endpoints), client: cl}
	return cl, nil
}

// pruneEtcdHealthClients closes the cached clients of endpoints no member
// has any more.
func (c *Cluster) pruneEtcdHealthClients(members []*etcdserverpb.Member) {
	keep := map[string]bool{"*": true, votersKey: true}
	for _, m := range members {
		for _, u := range m.ClientURLs {
			keep[u] = true
		}
	}
	s := c.sim()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, hc := range s.etcdHealth {
		if !keep[k] {
			_ = hc.client.Close()
			delete(s.etcdHealth, k)
		}
	}
}

func (s *simState) closeEtcdHealthClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, hc := range s.etcdHealth {
		_ = hc.client.Close()
		delete(s.etcdHealth, k)
	}
}

// etcdMembersClient is a client over all master endpoints.
func (c *Cluster) etcdMembersClient(ctx context.Context) (*clientv3.Client, error) {
	eps, err := c.etcdMasterEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	return c.etcdClientFor("*", eps)
}

// memberList lists the etcd members, bounded in time.
func (c *Cluster) memberList(ctx context.Context) ([]*etcdserverpb.Member, error) {
	cl, err := c.etcdMembersClient(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
	defer cancel()
	// Serializable: the list must be readable while a member just added
	// has not started and the cluster waits for it to regain quorum.
	resp, err := cl.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	return resp.Members, nil
}

// memberHealthy reads the key "health" on the member's own client URL:
// linearizably for a voter, serializably for a learner (which refuses
// linearizable reads), as cluster-etcd-operator's health check does.
func (c *Cluster) memberHealthy(ctx context.Context, clientURL string, learner bool) bool {
	cl, err := c.etcdClientFor(clientURL, []string{clientURL})
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, etcdHealthTimeout)
	defer cancel()
	var opts []clientv3.OpOption
	if learner {
		opts = append(opts, clientv3.WithSerializable())
	}
	_, err = cl.Get(ctx, "health", opts...)
	return err == nil
}

// memberDisplayName is the member's name, or for a member that has not
// started yet, NAME-PENDING-<peer host> as cluster-etcd-operator shows it.
func memberDisplayName(m *etcdserverpb.Member) string {
	if m.Name != "" {
		return m.Name
	}
	if len(m.PeerURLs) == 0 {
		return "NAME-PENDING-BAD-PEER-URL"
	}
	u, err := url.Parse(m.PeerURLs[0])
	if err != nil {
		return "NAME-PENDING-BAD-PEER-URL"
	}
	return "NAME-PENDING-" + u.Hostname()
}

// etcdMemberConditions checks every member and returns the three member
// conditions.
func (c *Cluster) etcdMemberConditions(ctx context.Context) ([]operatorv1.OperatorCondition, error) {
	members, err := c.memberList(ctx)
	if err != nil {
		return nil, err
	}
	healthy := make([]bool, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		if len(m.ClientURLs) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, u := range m.ClientURLs {
				if c.memberHealthy(ctx, u, m.IsLearner) {
					healthy[i] = true
					return
				}
			}
		}()
	}
	wg.Wait()
	c.pruneEtcdHealthClients(members)
	var available, unhealthy, unstarted []string
	voters, healthyVoters := 0, 0
	for i, m := range members {
		if !m.IsLearner {
			voters++
			if healthy[i] && m.Name != "" {
				healthyVoters++
			}
		}
		switch {
		case len(m.ClientURLs) == 0 || m.Name == "":
			unstarted = append(unstarted, memberDisplayName(m))
		case healthy[i]:
			available = append(available, m.Name)
		default:
			unhealthy = append(unhealthy, m.Name)
		}
	}
	msg := etcdMembersMessage(available, unhealthy, unstarted, len(members))
	conds := []operatorv1.OperatorCondition{
		{Type: condEtcdMembersDegraded, Status: operatorv1.ConditionFalse, Reason: "AsExpected", Message: "No unhealthy members found"},
		{Type: condEtcdMembersProgressing, Status: operatorv1.ConditionFalse, Reason: "AsExpected", Message: "No unstarted etcd members found"},
		{Type: condEtcdMembersAvailable, Status: operatorv1.ConditionTrue, Reason: "EtcdQuorate", Message: msg},
	}
	if len(unhealthy) > 0 {
		conds[0].Status, conds[0].Reason, conds[0].Message = operatorv1.ConditionTrue, "UnhealthyMembers", msg
	}
	if len(unstarted) > 0 {
		conds[1].Status, conds[1].Reason, conds[1].Message = operatorv1.ConditionTrue, "MembersNotStarted", msg
	}
	if healthyVoters <= voters/2 {
		conds[2].Status, conds[2].Reason = operatorv1.ConditionFalse, "NoQuorum"
	}
	return conds, nil
}

// etcdMembersMessage formats the member health the way cluster-etcd-operator
// does.
func etcdMembersMessage(available, unhealthy, unstarted []string, total int) string {
	var parts []string
	switch {
	case len(available) > 0 && len(available) == total:
		parts = append(parts, fmt.Sprintf("%d members are available", len(available)))
	case len(available) > 0:
		parts = append(parts, fmt.Sprintf("%d of %d members are available", len(available), total))
	}
	for _, n := range unhealthy {
		parts = append(parts, n+" is unhealthy")
	}
	for _, n := range unstarted {
		parts = append(parts, n+" has not started")
	}
	return strings.Join(parts, ", ")
}

// etcdInstaller installs etcd revisions, adding members where needed.
type etcdInstaller struct {
	c *Cluster
}

func (e *etcdInstaller) newRevisionForNewNode() bool { return true }

// firstChoices are the masters without a started member: scaling up before
// restarting existing members keeps a two-member cluster from losing quorum
// while one of them restarts. A master whose member was added but has not
// started comes first: etcd holds one learner at a time, so no other member
// can be added until it has started and been promoted.
func (e *etcdInstaller) firstChoices(ctx context.Context) []string {
	members, err := e.c.memberList(ctx)
	if err != nil {
		return nil
	}
	var pending, missing []string
	for _, n := range e.c.Masters() {
		h := e.c.Host(n)
		if h == nil {
			continue
		}
		peer := h.EtcdPeerURL()
		i := slices.IndexFunc(members, func(m *etcdserverpb.Member) bool {
			return m.Name == n || slices.Contains(m.PeerURLs, peer)
		})
		switch {
		case i < 0:
			missing = append(missing, n)
		case members[i].Name == "" || len(members[i].ClientURLs) == 0:
			pending = append(pending, n)
		}
	}
	return append(pending, missing...)
}

func (e *etcdInstaller) start(ctx context.Context, node string, h *Host, revision int32) error {
	c := e.c
	members, err := c.memberList(ctx)
	if err != nil {
		return err
	}
	peer := h.EtcdPeerURL()
	mine := slices.IndexFunc(members, func(m *etcdserverpb.Member) bool {
		return m.Name == node || slices.Contains(m.PeerURLs, peer)
	})
	switch {
	case mine < 0:
		// One learner at a time, as cluster-etcd-operator scales up (and
		// etcd allows one learner by default): wait until the pending one
		// has started and been promoted.
		if l := firstLearner(members); l != nil {
			return fmt.Errorf("adding etcd member %s: %w: %s", node, errLearnerPending, memberDisplayName(l))
		}
		// Everything that needs the API comes first. The member joins as a
		// learner, which does not vote: adding it keeps quorum (and the
		// API), unlike adding a voter to a one- or two-member cluster.
		if err := c.ensureMemberSecrets(ctx, h); err != nil {
			return err
		}
		if err := moveAsideEtcdData(ctx, h); err != nil {
			return err
		}
		cl, err := c.etcdVotersClient(members)
		if err != nil {
			return err
		}
		actx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
		resp, err := cl.MemberAddAsLearner(actx, []string{peer})
		cancel()
		if err != nil {
			return fmt.Errorf("adding etcd member %s (%s) as a learner: %w", node, peer, err)
		}
		c.etcdOperatorEvent(ctx, eventMemberAddAsLearner, fmt.Sprintf("added learner member %s (%x) with peer URL %s", node, resp.Member.ID, peer))
		h.setJoining(resp.Member.ID)
		members = resp.Members
	case members[mine].Name == "":
		// Added before but not started yet, as far as the member list
		// tells: a member publishes its name only once it has joined, which
		// on a busy machine comes well after it received the leader's log.
		// The API may be down until it does, so its secrets are best effort.
		if err := c.ensureMemberSecrets(ctx, h); err != nil {
			c.controllerLogger().Debug("etcd member secrets", "node", node, "err", err)
		}
		// A data directory this member was started on is its own: moving
		// it aside would lose the log the leader counts as replicated, and
		// the member would panic at every start ("tocommit(N) is out of
		// range"). Only another member's data is stale.
		if h.joiningMember() != members[mine].ID {
			if err := moveAsideEtcdData(ctx, h); err != nil {
				return err
			}
		}
	default:
		if err := c.ensureMemberSecrets(ctx, h); err != nil {
			return err
		}
	}
	return c.writeEtcdRevision(h, int(revision), c.initialCluster(members, node, peer), "existing")
}

// ensureMemberSecrets re-creates the etcd-peer-, etcd-serving- and
// etcd-serving-metrics-<node> secrets of a member being installed when any
// is missing (runbook 2.4 deletes them), as the operator's certificate
// signer does: from the certificates on the host, or newly issued ones when
// the host has none.
func (c *Cluster) ensureMemberSecrets(ctx context.Context, h *Host) error {
	missing := false
	for _, prefix := range []string{"etcd-peer-", "etcd-serving-", "etcd-serving-metrics-"} {
		_, err := c.ctlKube().CoreV1().Secrets(nsEtcd).Get(ctx, prefix+h.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			missing = true
		} else if err != nil {
			return fmt.Errorf("getting secret %s%s: %w", prefix, h.name, err)
		}
	}
	if !missing {
		return nil
	}
	mc := &memberCerts{}
	peerCrt, peerKey, servingCrt, servingKey, metricsCrt, metricsKey := etcdCertPaths(h.name)
	var readErr error
	for _, f := range []struct {
		dst *[]byte
		rel string
	}{
		{&mc.peerCrt, peerCrt}, {&mc.peerKey, peerKey},
		{&mc.servingCrt, servingCrt}, {&mc.servingKey, servingKey},
		{&mc.metricsCrt, metricsCrt}, {&mc.metricsKey, metricsKey},
	} {
		b, err := os.ReadFile(h.path(etcdCertsDir + "/" + f.rel))
		if err != nil {
			readErr = err
			break
		}
		*f.dst = b
	}
	if readErr != nil {
		var err error
		if mc, err = c.issueEtcdCerts(h); err != nil {
			return err
		}
	}
	return c.ensureEtcdSecrets(ctx, h.name, mc)
}

// initialCluster renders --initial-cluster for node from the member list:
// name=peerURL for every member, unstarted members named after their host.
func (c *Cluster) initialCluster(members []*etcdserverpb.Member, node, peer string) string {
	var parts []string
	for _, m := range members {
		name := m.Name
		if name == "" {
			if slices.Contains(m.PeerURLs, peer) {
				name = node
			} else {
				name = c.nodeForPeerURL(m.PeerURLs)
			}
		}
		if name == "" {
			continue
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, name+"="+u)
		}
	}
	return strings.Join(parts, ",")
}

// nodeForPeerURL finds the host whose etcd peer URL is among urls.
func (c *Cluster) nodeForPeerURL(urls []string) string {
	for _, n := range c.Masters() {
		if h := c.Host(n); h != nil && slices.Contains(urls, h.EtcdPeerURL()) {
			return n
		}
	}
	return ""
}

// moveAsideEtcdData moves a member directory left in /var/lib/etcd to
// /var/lib/etcd-backup/member-<time>, as the operator's installer does
// before a member joins. It goes through the host's Move, so a data
// directory on its own filesystem (/var/lib/etcd a mount point, where a
// plain rename fails with EXDEV) is copied across and the source removed.
func moveAsideEtcdData(ctx context.Context, h *Host) error {
	src := "/var/lib/etcd/member"
	if _, err := os.Lstat(h.path(src)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	dstDir := names.EtcdBackupDir
	if err := h.local.MkdirAll(ctx, dstDir, 0o700); err != nil {
		return fmt.Errorf("moving stale etcd data aside: %w", err)
	}
	dst := dstDir + "/member-" + time.Now().UTC().Format("20060102T150405.000000000")
	if err := h.local.Move(ctx, src, dst); err != nil {
		return fmt.Errorf("moving stale etcd data aside: %w", err)
	}
	return nil
}

func (e *etcdInstaller) done(ctx context.Context, node string, h *Host, revision int32, since time.Time) (bool, error) {
	c := e.c
	b, err := os.ReadFile(hostManifestPath(h, "etcd"))
	if err != nil || fileRevision(b) != revision {
		return false, nil // moved away or replaced: wait (a newer revision restarts the install)
	}
	if rev, _, ok := h.etcdRevision(); !ok || rev != int(revision) {
		return false, nil
	}
	members, err := c.memberList(ctx)
	if err != nil {
		return false, nil
	}
	i := slices.IndexFunc(members, func(m *etcdserverpb.Member) bool { return m.Name == node })
	if i < 0 || len(members[i].ClientURLs) == 0 || members[i].IsLearner {
		return false, nil // a learner is done once promoted (promoteLearners)
	}
	return c.memberHealthy(ctx, members[i].ClientURLs[0], false), nil
}
