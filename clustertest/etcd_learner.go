// Learners: adding a member to a running EtcdCluster as a non-voting
// learner and promoting it, as cluster-etcd-operator scales etcd up.

package clustertest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/util/wait"
)

// AddLearner adds a new member called name to the running cluster as a
// learner (etcdctl member add --learner, clientv3 MemberAddAsLearner),
// starts it on a new data directory with --initial-cluster-state=existing,
// and waits until it serves a serializable read (a learner refuses
// linearizable ones with "rpc not supported for learner"). The member is
// appended to Members, so Endpoints and Client include it; promote it with
// Promote. A learner does not count towards quorum.
//
// It retries while etcd refuses the reconfiguration as "unhealthy cluster"
// (members connected too recently), and fails when the name is taken, when
// etcd refuses the learner otherwise (no quorum, its limit of learners), or
// when ctx ends before the learner serves.
func (c *EtcdCluster) AddLearner(ctx context.Context, name string) (*EtcdMember, error) {
	if c.Member(name) != nil {
		return nil, fmt.Errorf("clustertest: adding learner %s: a member has that name", name)
	}
	m := &EtcdMember{
		Name:    name,
		DataDir: filepath.Join(c.dir, name, "data"),
		LogFile: filepath.Join(c.dir, name+".log"),
		cluster: c,
		learner: true,
	}
	var err error
	if m.ServerTLS, m.PeerTLS, err = issueEtcdMemberCerts(c.PKI, name); err != nil {
		return nil, err
	}
	cp, err := c.ports.alloc()
	if err != nil {
		return nil, err
	}
	pp, err := c.ports.alloc()
	if err != nil {
		return nil, err
	}
	m.ClientURL = "https://127.0.0.1:" + strconv.Itoa(cp)
	m.PeerURL = "https://127.0.0.1:" + strconv.Itoa(pp)

	cl, err := newEtcdClient(c.voterEndpoints(), c.clientTLS)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// etcd refuses a reconfiguration ("unhealthy cluster") until its
	// members have been connected for a while, as right after a start.
	var resp *clientv3.MemberAddResponse
	var last error
	err = wait.PollUntilContextCancel(ctx, etcdPollInterval, true, func(ctx context.Context) (bool, error) {
		actx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
		defer cancel()
		resp, last = cl.MemberAddAsLearner(actx, []string{m.PeerURL})
		switch {
		case last == nil:
			return true, nil
		case errors.Is(last, rpctypes.ErrGRPCUnhealthy), errors.Is(last, rpctypes.ErrUnhealthy):
			return false, nil
		case actx.Err() != nil && ctx.Err() == nil:
			return false, nil
		default:
			return false, last
		}
	})
	if err != nil {
		if last != nil && !errors.Is(err, last) {
			err = fmt.Errorf("%w (last error: %v)", err, last)
		}
		return nil, fmt.Errorf("clustertest: adding learner %s (%s): %w", name, m.PeerURL, err)
	}
	var initial []string
	for _, mm := range resp.Members {
		n := mm.Name
		if mm.ID == resp.Member.ID {
			n = name
		}
		if n == "" {
			continue // another member added but not started
		}
		for _, u := range mm.PeerURLs {
			initial = append(initial, n+"="+u)
		}
	}
	m.args = etcdMemberArgs(etcdMemberConfig{
		Name:           name,
		DataDir:        m.DataDir,
		ClientURL:      m.ClientURL,
		PeerURL:        m.PeerURL,
		InitialCluster: strings.Join(initial, ","),
		ServerTLS:      m.ServerTLS,
		PeerTLS:        m.PeerTLS,
	})
	m.args = append(m.args, c.extraArgs...)
	m.id = resp.Member.ID

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("clustertest: etcd cluster closed")
	}
	c.Members = append(c.Members, m)
	c.mu.Unlock()
	if err := m.launch(); err != nil {
		return m, err
	}
	if err := m.waitReady(ctx); err != nil {
		return m, err
	}
	c.logger.Info("etcd learner serving", "member", name, "id", fmt.Sprintf("%x", m.id))
	return m, nil
}

// Promote makes the learner called name a voting member (etcdctl member
// promote), retrying while etcd answers that the learner is not yet in
// sync with the leader, until ctx ends. Promoting a voter is an error.
func (c *EtcdCluster) Promote(ctx context.Context, name string) error {
	m := c.Member(name)
	if m == nil {
		return fmt.Errorf("clustertest: promoting %s: no such member", name)
	}
	if !m.IsLearner() {
		return fmt.Errorf("clustertest: promoting %s: not a learner", name)
	}
	cl, err := newEtcdClient(c.voterEndpoints(), c.clientTLS)
	if err != nil {
		return err
	}
	defer cl.Close()
	var last error
	err = wait.PollUntilContextCancel(ctx, etcdPollInterval, true, func(ctx context.Context) (bool, error) {
		pctx, cancel := context.WithTimeout(ctx, etcdCallTimeout)
		defer cancel()
		_, last = cl.MemberPromote(pctx, m.id)
		switch {
		case last == nil:
			return true, nil
		case errors.Is(last, rpctypes.ErrGRPCLearnerNotReady), errors.Is(last, rpctypes.ErrMemberLearnerNotReady):
			return false, nil
		case pctx.Err() != nil && ctx.Err() == nil:
			return false, nil // one slow call on a loaded machine
		default:
			return false, last
		}
	})
	if err != nil {
		if last != nil && !errors.Is(err, last) {
			err = fmt.Errorf("%w (last error: %v)", err, last)
		}
		return fmt.Errorf("clustertest: promoting learner %s: %w", name, err)
	}
	m.mu.Lock()
	m.learner = false
	m.mu.Unlock()
	c.logger.Info("etcd learner promoted", "member", name)
	return nil
}

// IsLearner reports whether the member was added by AddLearner and has not
// been promoted by Promote.
func (m *EtcdMember) IsLearner() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.learner
}

// voterEndpoints are the client URLs of the members that are not learners:
// where member management and linearizable requests must go.
func (c *EtcdCluster) voterEndpoints() []string {
	c.mu.Lock()
	ms := c.Members
	c.mu.Unlock()
	var eps []string
	for _, m := range ms {
		if !m.IsLearner() {
			eps = append(eps, m.ClientURL)
		}
	}
	return eps
}
