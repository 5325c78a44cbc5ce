package etcdtest

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Client is every method the fakes offer: the union of the etcd
// interfaces lifeboat's packages consume (member.Cluster,
// member.HealthChecker with learner checks, backup.SnapshotClient).
// *Cluster implements it.
type Client interface {
	Endpoints() []string
	Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error)
	MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error)
	MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error)
	SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error)
	CheckHealth(ctx context.Context, clientURL string) error
	CheckLearnerHealth(ctx context.Context, clientURL string) error
}

var _ Client = (*Cluster)(nil)

// Funcs replaces methods of a Client for a test. A nil field leaves the
// method to the wrapped client; a set one is called instead, with the
// wrapped client as its second argument (controller-runtime's
// interceptor.Funcs shape).
type Funcs struct {
	Endpoints           func(next Client) []string
	Status              func(ctx context.Context, next Client, endpoint string) (*clientv3.StatusResponse, error)
	MemberList          func(ctx context.Context, next Client, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error)
	MemberRemove        func(ctx context.Context, next Client, id uint64) (*clientv3.MemberRemoveResponse, error)
	SnapshotWithVersion func(ctx context.Context, next Client) (*clientv3.SnapshotResponse, error)
	CheckHealth         func(ctx context.Context, next Client, clientURL string) error
	CheckLearnerHealth  func(ctx context.Context, next Client, clientURL string) error
}

// Wrap returns a Client that calls next except where funcs replaces a
// method. A nil next is an empty NewCluster().
func Wrap(next Client, funcs Funcs) Client {
	if next == nil {
		next = NewCluster()
	}
	return &wrapped{next: next, f: funcs}
}

type wrapped struct {
	next Client
	f    Funcs
}

func (w *wrapped) Endpoints() []string {
	if w.f.Endpoints != nil {
		return w.f.Endpoints(w.next)
	}
	return w.next.Endpoints()
}

func (w *wrapped) Status(ctx context.Context, ep string) (*clientv3.StatusResponse, error) {
	if w.f.Status != nil {
		return w.f.Status(ctx, w.next, ep)
	}
	return w.next.Status(ctx, ep)
}

func (w *wrapped) MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	if w.f.MemberList != nil {
		return w.f.MemberList(ctx, w.next, opts...)
	}
	return w.next.MemberList(ctx, opts...)
}

func (w *wrapped) MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error) {
	if w.f.MemberRemove != nil {
		return w.f.MemberRemove(ctx, w.next, id)
	}
	return w.next.MemberRemove(ctx, id)
}

func (w *wrapped) SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error) {
	if w.f.SnapshotWithVersion != nil {
		return w.f.SnapshotWithVersion(ctx, w.next)
	}
	return w.next.SnapshotWithVersion(ctx)
}

func (w *wrapped) CheckHealth(ctx context.Context, u string) error {
	if w.f.CheckHealth != nil {
		return w.f.CheckHealth(ctx, w.next, u)
	}
	return w.next.CheckHealth(ctx, u)
}

func (w *wrapped) CheckLearnerHealth(ctx context.Context, u string) error {
	if w.f.CheckLearnerHealth != nil {
		return w.f.CheckLearnerHealth(ctx, w.next, u)
	}
	return w.next.CheckLearnerHealth(ctx, u)
}
