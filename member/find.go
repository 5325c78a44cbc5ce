package member

import (
	"cmp"
	"context"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Deps are the clients FindUnhealthyMember and the replacement plans use.
type Deps struct {
	// Etcd lists and removes members; a *clientv3.Client. Required.
	Etcd Cluster
	// Health checks one member. nil: Etcd's own connections, when Etcd is
	// a dialer (a *clientv3.Client is).
	Health HealthChecker
	// Operator reads the etcd operator's `cluster` object. Required by
	// ReplacePlan (forced redeployment, quorum guard). nil for
	// FindUnhealthyMember: the EtcdMembersAvailable condition is not
	// consulted.
	Operator operatorclient.Interface
	// Kube reads nodes, pods and secrets. Required by ReplacePlan. nil for
	// FindUnhealthyMember: the runbook 2.3 checks are skipped and the
	// Finding's State is Unknown.
	Kube kubernetes.Interface
	// Machine reads and re-creates Machines. nil: the cluster has no Machine
	// API (user-provisioned); machine checks are skipped.
	Machine machineclient.Interface
	// Config reads the ClusterVersion, from which the replacement plans
	// choose between the 4.5 runbook's procedure and the current one
	// (quorum guard toggled, failed node deleted; see
	// ReplaceOptions.Release). nil: only ReplaceOptions.Release decides,
	// else the 4.5 runbook's procedure runs, and the plan says so.
	Config configclient.Interface
}

// FindOptions configures FindUnhealthyMember. The zero value checks every
// member with a 5 s health timeout in the OpenShift namespaces.
type FindOptions struct {
	// HealthTimeout bounds each member's health check (and the member
	// list); 5 s when zero, negative is invalid.
	HealthTimeout time.Duration
	StateOptions
	// Logger; discarded when nil.
	Logger *slog.Logger
}

// Finding is the unhealthy member, why it is unhealthy and how the two
// sources (the operator's condition and the members' own health) agree.
type Finding struct {
	Member MemberHealth
	// Node is the member's node (the member name on OpenShift).
	Node string
	// State says which procedure applies (State.Procedure).
	State State
	// Report is the runbook 2.3 checks; nil when State is Healthy.
	Report *StateReport
	// Evidence: the condition, the health checks and the 2.3 checks, one
	// line each.
	Evidence []string
	// Condition is the EtcdMembersAvailable message; "" when not read.
	Condition string
	// Disagreement is non-empty when the condition and the health checks
	// name different members.
	Disagreement string
	// Members is every member with its health.
	Members []MemberHealth
	// OtherUnhealthy lists further unhealthy members; chapter 2 replaces
	// one member at a time.
	OtherUnhealthy []MemberHealth
}

// FindUnhealthyMember implements runbook 2.2 and 2.3: it reads the
// EtcdMembersAvailable condition of the etcd operator, checks every
// member's own health in parallel (each with a timeout: a linearizable
// read for a voting member, a serializable read for a learner, as
// cluster-etcd-operator checks them), picks the unhealthy member and
// determines its state. A learner (a master the operator is adding) is a
// member in its own right: named only when it does not answer, after the
// unhealthy voting members (the condition's choice first), and never
// counted for quorum. It returns:
//
//   - a *QuorumLostError (errors.Is ErrQuorumLost) when a majority of the
//     voting members (learners excluded) is unhealthy: restore from a
//     backup instead;
//   - ErrNoUnhealthyMember when every member is healthy and the condition
//     names nobody;
//   - a Finding with State Healthy when the condition names a member that
//     answers its health check again (nothing to replace);
//   - otherwise a Finding whose State says which procedure applies.
func FindUnhealthyMember(ctx context.Context, deps Deps, opts FindOptions) (*Finding, error) {
	if deps.Etcd == nil {
		return nil, opterr.Nil("member.Deps.Etcd")
	}
	if err := cmp.Or(
		opterr.Negative("member.FindOptions.HealthTimeout", opts.HealthTimeout),
		opterr.Negative("member.FindOptions.CrashLoopWindow", opts.CrashLoopWindow),
	); err != nil {
		return nil, err
	}
	hc, err := healthCheckerFor("member.Deps.Health", deps.Health, deps.Etcd)
	if err != nil {
		return nil, err
	}
	timeout := opts.HealthTimeout
	if timeout == 0 {
		timeout = defaultHealthTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Finding{}

	// 2.2: the operator's view.
	var avail *Availability
	if deps.Operator != nil {
		// Best effort: without quorum the API server cannot answer.
		octx, cancel := context.WithTimeout(ctx, timeout)
		etcd, err := deps.Operator.OperatorV1().Etcds().Get(octx, names.ClusterResource, metav1.GetOptions{})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			f.Evidence = append(f.Evidence, fmt.Sprintf("reading etcd/cluster for %s failed: %v", etcdMembersAvailable, err))
		} else if c := findCondition(etcd.Status.Conditions, etcdMembersAvailable); c != nil {
			f.Condition = c.Message
			f.Evidence = append(f.Evidence, fmt.Sprintf("%s: %s", etcdMembersAvailable, c.Message))
			if a, err := ParseMembersAvailable(c.Message); err == nil {
				avail = &a
			} else {
				f.Evidence = append(f.Evidence, err.Error())
			}
		} else {
			f.Evidence = append(f.Evidence, etcdMembersAvailable+" condition not set on etcd/cluster")
		}
	}

	// The members' own view.
	members, _, err := listMembers(ctx, deps.Etcd, timeout)
	if err != nil {
		if avail != nil && avail.QuorumLost() {
			return nil, &QuorumLostError{Healthy: avail.Available, Voting: avail.Total, Unhealthy: avail.Names(), Source: etcdMembersAvailable + " (the member list is unavailable)"}
		}
		return nil, fmt.Errorf("member: %w", err)
	}
	f.Members = checkMembers(ctx, hc, members, timeout)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var unhealthy []MemberHealth
	for _, m := range f.Members {
		f.Evidence = append(f.Evidence, m.Health())
		if !m.Healthy {
			unhealthy = append(unhealthy, m)
		}
	}
	voting, healthy := votingHealth(f.Members)
	if healthy < quorum(voting) {
		var names []string
		for _, m := range unhealthy {
			names = append(names, m.DisplayName())
		}
		return nil, &QuorumLostError{Healthy: healthy, Voting: voting, Unhealthy: names, Source: "member health checks"}
	}

	var named []string
	if avail != nil {
		named = avail.Names()
	}
	isNamed := func(m MemberHealth) bool {
		return slices.Contains(named, m.Name) || slices.Contains(named, m.DisplayName())
	}

	switch {
	case len(unhealthy) > 0:
		// Prefer a member both sources agree on, then a voting member: a
		// lost voter weighs on quorum, a lost learner does not.
		idx := slices.IndexFunc(unhealthy, isNamed)
		if idx < 0 {
			idx = slices.IndexFunc(unhealthy, func(m MemberHealth) bool { return !m.IsLearner })
		}
		if idx < 0 {
			idx = 0
		}
		f.Member = unhealthy[idx]
		f.OtherUnhealthy = append(slices.Clone(unhealthy[:idx]), unhealthy[idx+1:]...)
		var unhealthyNames []string
		for _, m := range unhealthy {
			unhealthyNames = append(unhealthyNames, m.DisplayName())
		}
		switch {
		case avail == nil:
		case len(named) == 0:
			f.Disagreement = fmt.Sprintf("%s reports every member available, but the health checks find %s unhealthy (the condition may lag behind)",
				etcdMembersAvailable, strings.Join(unhealthyNames, ", "))
		case !sameSet(named, unhealthy):
			f.Disagreement = fmt.Sprintf("%s names %s, but the health checks find %s unhealthy",
				etcdMembersAvailable, strings.Join(named, ", "), strings.Join(unhealthyNames, ", "))
		}
	case len(named) > 0:
		idx := slices.IndexFunc(f.Members, isNamed)
		if idx < 0 {
			return nil, fmt.Errorf("%w: %s names %s, which is no longer a member; every member is healthy",
				ErrNoUnhealthyMember, etcdMembersAvailable, strings.Join(named, ", "))
		}
		f.Member = f.Members[idx]
		f.Node = nodeName(f.Member)
		f.State = Healthy
		f.Disagreement = fmt.Sprintf("%s names %s, but it answers its health check now", etcdMembersAvailable, f.Member.DisplayName())
		f.Evidence = append(f.Evidence, fmt.Sprintf("member %s is healthy again: it needs no replacement; the etcd cluster Operator syncs it once its machine and node are healthy", f.Member.DisplayName()))
		return f, nil
	default:
		return nil, fmt.Errorf("%w: %d members are healthy", ErrNoUnhealthyMember, len(f.Members))
	}

	// 2.3: the state of the unhealthy member.
	f.Node = nodeName(f.Member)
	if deps.Kube == nil {
		f.State = Unknown
		f.Evidence = append(f.Evidence, "state checks skipped: no Kubernetes client")
		return f, nil
	}
	if f.Member.Name == "" {
		if n, err := nodeByAddress(ctx, deps.Kube, f.Member); err == nil && n != "" {
			f.Node = n
		}
	}
	rep, err := determineState(ctx, deps.Kube, deps.Machine, f.Node, opts.StateOptions)
	if err != nil {
		return nil, err
	}
	f.Report, f.State = rep, rep.State
	f.Evidence = append(f.Evidence, rep.Evidence...)
	log.InfoContext(ctx, "unhealthy etcd member", "member", f.Member.DisplayName(), "id", fmt.Sprintf("%x", f.Member.ID),
		"learner", f.Member.IsLearner, "node", f.Node, "state", string(f.State), "procedure", f.State.Procedure())
	return f, nil
}

func findCondition(cs []operatorv1.OperatorCondition, t string) *operatorv1.OperatorCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

func sameSet(names []string, ms []MemberHealth) bool {
	if len(names) != len(ms) {
		return false
	}
	for _, m := range ms {
		if !slices.Contains(names, m.Name) && !slices.Contains(names, m.DisplayName()) {
			return false
		}
	}
	return true
}

// nodeName is the member's node: on OpenShift the member is named after
// its node; an unstarted member is known by its peer host only.
func nodeName(m MemberHealth) string { return m.DisplayName() }

// nodeByAddress finds the node whose addresses include the host of the
// member's peer URL.
func nodeByAddress(ctx context.Context, kube kubernetes.Interface, m MemberHealth) (string, error) {
	var hosts []string
	for _, p := range m.PeerURLs {
		if u, err := url.Parse(p); err == nil {
			hosts = append(hosts, u.Hostname())
		}
	}
	nodes, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	for _, n := range nodes.Items {
		for _, a := range n.Status.Addresses {
			if slices.Contains(hosts, a.Address) {
				return n.Name, nil
			}
		}
	}
	return "", nil
}
