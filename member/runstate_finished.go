package member

import (
	"context"
	"fmt"
	"strconv"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// A run killed after its last step finished (the verification passed and
// the state was retired as finished, but the caller never heard of it)
// leaves no live state. Run again with the same Node and State, it must
// report the replacement done rather than start over: starting over would
// refuse the healthy member it just added (2.4.2) or repeat mutating steps
// such as the quorum guard toggle (2.4.1). finishedRun recognises that
// case from the retired state and the cluster together.

// finishedRun returns the newest state retired as finished for the
// identity want, when the cluster still shows what that run left: the
// member it replaced (MemberID) is gone, and the member its verification
// found in its place (NewMemberID) is listed, started, voting and healthy.
// ok is false (and the plan starts a run of its own) when there is no such
// state, when it predates NewMemberID, or when the cluster no longer
// matches it: a member that broke again after an earlier replacement
// is replaced afresh. The check lists members and checks one member's
// health, each bounded by ReplaceOptions.HealthTimeout.
func (r *replacement) finishedRun(ctx context.Context, want ReplaceIdentity) (d replaceRunState, name string, ok bool, err error) {
	d, name, err = r.store.newestRetired(ctx, retiredFinished, want)
	if err != nil {
		return replaceRunState{}, "", false, err
	}
	if name == "" || d.MemberID == "" || d.NewMemberID == "" {
		return replaceRunState{}, "", false, nil
	}
	oldID, err1 := strconv.ParseUint(d.MemberID, 16, 64)
	newID, err2 := strconv.ParseUint(d.NewMemberID, 16, 64)
	if err1 != nil || err2 != nil || oldID == newID {
		return replaceRunState{}, "", false, nil
	}
	hc, err := healthCheckerFor("member.Deps.Health", r.deps.Health, r.deps.Etcd)
	if err != nil {
		return replaceRunState{}, "", false, err
	}
	timeout := r.o.HealthTimeout
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	members, _, err := listMembers(ctx, r.deps.Etcd, timeout)
	if err != nil {
		return replaceRunState{}, "", false, fmt.Errorf("member: checking the finished replacement %s: %w", name, err)
	}
	var added *MemberHealth
	for _, m := range members {
		switch m.ID {
		case oldID:
			return replaceRunState{}, "", false, nil // the replaced member is back: not that run's end state
		case newID:
			h := checkMembers(ctx, hc, []*pb.Member{m}, timeout)[0]
			added = &h
		}
	}
	if added == nil || !added.Started || added.IsLearner || !added.Healthy {
		return replaceRunState{}, "", false, ctx.Err()
	}
	return d, name, true, nil
}

// adoptFinished makes d, the retired state finishedRun found, the run's
// state: every step is skipped as finished, and nothing is written.
func (r *replacement) adoptFinished(d replaceRunState, name string, progress func(string)) {
	progress(fmt.Sprintf("this replacement (%s) finished at %s; its state is kept in ConfigMap %s/%s, and the cluster still shows it: member %s removed, member %s started, voting and healthy",
		d.Identity, d.Completed.UTC().Format("2006-01-02T15:04:05Z07:00"), r.store.namespace, name, d.MemberID, d.NewMemberID))
	d.RetiredTo = name
	r.state, r.admitted, r.adopted = d, true, true
	r.newNode = d.NewNode
	r.current, r.decision = d.Current, d.Release
}
