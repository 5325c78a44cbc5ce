package member

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// RemoveOptions configures RemoveMember. The zero value refuses unsafe
// removals and checks health with a 5 s timeout.
type RemoveOptions struct {
	// Force removes the member even when it is healthy or when its removal
	// leaves fewer healthy members than a quorum. The runbook warns:
	// removing a good member might lead to quorum loss.
	Force bool
	// Health checks members; nil: the cluster's own connections when it is
	// a dialer (a *clientv3.Client is).
	Health HealthChecker
	// HealthTimeout bounds each health check and each member list call;
	// 5 s when zero, negative is invalid.
	HealthTimeout time.Duration
	// Logger; discarded when nil.
	Logger *slog.Logger
}

// RemoveResult says what RemoveMember did.
type RemoveResult struct {
	// Removed is the member as listed before removal; nil when it was
	// already absent.
	Removed *pb.Member
	// AlreadyAbsent: the ID was not a member; nothing was done.
	AlreadyAbsent bool
	// Before and After are the member lists around the removal; print them
	// with MemberTable, as "etcdctl member list -w table" would.
	Before, After []*pb.Member
	// Health is every member's health before the removal.
	Health []MemberHealth
}

// RemoveMember removes the member with id (runbook 2.4.1 step 1d / 2.4.2
// step 2d, "etcdctl member remove <id>"), guarded against losing quorum:
//
//   - a member that is not in the list is success (AlreadyAbsent);
//   - a healthy member is refused with ErrMemberHealthy, a learner too
//     (its health is a serializable read, as cluster-etcd-operator checks
//     it; a learner is how the operator adds a master);
//   - a removal that leaves fewer healthy voting members than a quorum of
//     the remaining voting members is refused with ErrWouldLoseQuorum
//     (learners are not counted; removing a learner never loses quorum)
//     and a cluster that already lost quorum with a *QuorumLostError
//     (ErrQuorumLost, pointing to the restore procedure);
//
// unless opts.Force. Afterwards it lists the members again (step 1e) and
// fails if the member is still there.
func RemoveMember(ctx context.Context, cluster Cluster, id uint64, opts RemoveOptions) (*RemoveResult, error) {
	if cluster == nil {
		return nil, opterr.Nil("member.RemoveMember cluster")
	}
	if err := opterr.Negative("member.RemoveOptions.HealthTimeout", opts.HealthTimeout); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timeout := opts.HealthTimeout
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	hc, err := healthCheckerFor("member.RemoveOptions.Health", opts.Health, cluster)
	if err != nil {
		return nil, err
	}
	res, target, err := checkRemoval(ctx, cluster, hc, id, timeout, opts.Force)
	if err != nil || target == nil {
		if res != nil && res.AlreadyAbsent {
			log.InfoContext(ctx, "etcd member already removed", "id", fmt.Sprintf("%x", id))
		}
		return res, err
	}
	name := res.Health[slices.IndexFunc(res.Health, func(h MemberHealth) bool { return h.ID == id })].DisplayName()
	rctx, cancel := context.WithTimeout(ctx, timeout)
	_, err = cluster.MemberRemove(rctx, id)
	cancel()
	if err != nil && !errors.Is(err, rpctypes.ErrMemberNotFound) && !errors.Is(err, rpctypes.ErrGRPCMemberNotFound) {
		return res, fmt.Errorf("member: remove %s (%x): %w", name, id, err)
	}
	res.Removed = target

	// Verify, as step 1e does.
	lctx, cancel2 := context.WithTimeout(ctx, timeout)
	after, err := cluster.MemberList(lctx)
	cancel2()
	if err != nil {
		return res, fmt.Errorf("member: remove %s (%x): listing members afterwards: %w", name, id, err)
	}
	res.After = after.Members
	for _, m := range after.Members {
		if m.ID == id {
			return res, fmt.Errorf("member: remove %s (%x): still listed after removal", name, id)
		}
	}
	log.InfoContext(ctx, "removed etcd member", "member", name, "id", fmt.Sprintf("%x", id), "members", len(after.Members))
	return res, nil
}

// checkRemoval is what RemoveMember checks before it removes member id,
// reading only: it lists the members (linearizably) and checks each one's
// health. It returns the result so far and the member to remove; a nil
// member with a nil error when id is not listed (res.AlreadyAbsent).
// Unless force, a healthy member is refused with ErrMemberHealthy and a
// removal that would leave fewer healthy voting members than a quorum
// with ErrWouldLoseQuorum and/or a *QuorumLostError (learners are not
// counted). The replacement plans' check-quorum step runs it in a dry run
// too.
func checkRemoval(ctx context.Context, cluster Cluster, hc HealthChecker, id uint64, timeout time.Duration, force bool) (*RemoveResult, *pb.Member, error) {
	res := &RemoveResult{}
	members, linearizable, err := listMembers(ctx, cluster, timeout)
	if err != nil {
		return nil, nil, fmt.Errorf("member: remove %x: %w", id, err)
	}
	res.Before = members
	if !linearizable {
		// Only a serializable list: the cluster may have lost quorum.
		res.Health = checkMembers(ctx, hc, members, timeout)
		if voting, healthy := votingHealth(res.Health); healthy < quorum(voting) {
			return res, nil, fmt.Errorf("member: refusing to remove %x: %w", id, quorumLost(res.Health, healthy, voting))
		}
		return res, nil, fmt.Errorf("member: remove %x: the member list is only available serializably; try again", id)
	}
	var target *pb.Member
	for _, m := range members {
		if m.ID == id {
			target = m
		}
	}
	if target == nil {
		res.AlreadyAbsent, res.After = true, members
		return res, nil, nil
	}
	res.Health = checkMembers(ctx, hc, members, timeout)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var self MemberHealth
	var remaining []MemberHealth
	for _, h := range res.Health {
		if h.ID == id {
			self = h
		} else {
			remaining = append(remaining, h)
		}
	}
	name := self.DisplayName()
	if !force {
		if self.Healthy {
			return res, nil, fmt.Errorf("member: refusing to remove %s (%x): %w: %s; removing a good etcd member might lead to quorum loss",
				name, id, ErrMemberHealthy, self.Health())
		}
		var errs []error
		if voting, healthy := votingHealth(remaining); !self.IsLearner && healthy < quorum(voting) {
			errs = append(errs, fmt.Errorf("%w: %d of the %d remaining voting members are healthy, quorum needs %d",
				ErrWouldLoseQuorum, healthy, voting, quorum(voting)))
		}
		if voting, healthy := votingHealth(res.Health); healthy < quorum(voting) {
			errs = append(errs, quorumLost(res.Health, healthy, voting))
		}
		if len(errs) > 0 {
			return res, nil, fmt.Errorf("member: refusing to remove %s (%x): %w", name, id, errors.Join(errs...))
		}
	}
	return res, target, nil
}

// lookup returns the member named name (a node name on OpenShift), or
// ErrMemberNotFound.
func lookup(ctx context.Context, cluster Cluster, name string) (*pb.Member, error) {
	resp, err := cluster.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("member: listing members: %w", err)
	}
	for _, m := range resp.Members {
		if m.Name == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("member: %q: %w", name, ErrMemberNotFound)
}

func quorumLost(hs []MemberHealth, healthy, voting int) *QuorumLostError {
	var names []string
	for _, h := range hs {
		if !h.Healthy {
			names = append(names, h.DisplayName())
		}
	}
	return &QuorumLostError{Healthy: healthy, Voting: voting, Unhealthy: names, Source: "member health checks"}
}
