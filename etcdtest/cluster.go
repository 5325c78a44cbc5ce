package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrMemberDown is wrapped by the calls that reach a member that is down.
var ErrMemberDown = errors.New("etcdtest: member is down")

// ErrUnknownEndpoint is wrapped by the calls given an endpoint or client
// URL that no member has.
var ErrUnknownEndpoint = errors.New("etcdtest: no member at this endpoint")

// Defaults of a new Cluster.
const (
	DefaultVersion         = "3.7.3" // Status().Version
	DefaultSnapshotVersion = "3.7.0" // SnapshotWithVersion().Version
	DefaultRevision        = 1
)

// member is one member and what its status reports.
type member struct {
	pb     *pb.Member
	down   bool
	errors []string // Status().Errors (alarms such as "NOSPACE")
}

// Cluster is an in-memory etcd cluster as a client sees it. The zero value
// is not usable; call [NewCluster]. It is safe for concurrent use.
//
// MemberList answers whatever members are down (the fake does not model
// quorum: fail MemberList with [Wrap] to test that). Status of a member
// reports the cluster's leader, revision and version, the snapshot's size
// as DbSize, and the member's own errors and learner flag.
type Cluster struct {
	mu          sync.Mutex
	members     []*member
	leader      uint64
	revision    int64
	version     string
	snapshot    []byte
	snapVersion string
	removed     []uint64
}

// NewCluster returns a cluster of voting members with the given names
// (master-0, master-1, ...): member i has ID 0x1000+i, peer URL
// https://10.0.0.<i+1>:2380 and client URL https://10.0.0.<i+1>:2379. The
// first member leads; revision DefaultRevision; an empty snapshot.
func NewCluster(names ...string) *Cluster {
	c := &Cluster{revision: DefaultRevision, version: DefaultVersion, snapVersion: DefaultSnapshotVersion}
	for i, n := range names {
		c.Add(&pb.Member{
			ID:         uint64(0x1000 + i),
			Name:       n,
			PeerURLs:   []string{fmt.Sprintf("https://10.0.0.%d:2380", i+1)},
			ClientURLs: []string{fmt.Sprintf("https://10.0.0.%d:2379", i+1)},
		})
	}
	return c
}

// Add adds a copy of m as a member, up and without errors; the first
// member of an empty cluster leads. Use it for members with the IDs and
// addresses of a real cluster. It returns c for chaining.
func (c *Cluster) Add(m *pb.Member) *Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.members) == 0 {
		c.leader = m.ID
	}
	c.members = append(c.members, &member{pb: clone(m)})
	return c
}

// byName returns the member called name, or nil. c.mu is held.
func (c *Cluster) byName(name string) *member {
	for _, m := range c.members {
		if m.pb.Name == name {
			return m
		}
	}
	return nil
}

// byURL returns the member with client URL u, or nil. c.mu is held.
func (c *Cluster) byURL(u string) *member {
	for _, m := range c.members {
		if slices.Contains(m.pb.ClientURLs, u) {
			return m
		}
	}
	return nil
}

// update applies f to each named member; unknown names are ignored.
func (c *Cluster) update(names []string, f func(*member)) *Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		if m := c.byName(n); m != nil {
			f(m)
		}
	}
	return c
}

// Down takes the named members down: they fail Status and health checks.
// It returns c for chaining.
func (c *Cluster) Down(names ...string) *Cluster {
	return c.update(names, func(m *member) { m.down = true })
}

// Up brings the named members back up.
func (c *Cluster) Up(names ...string) *Cluster {
	return c.update(names, func(m *member) { m.down = false })
}

// SetLearner makes the named member a learner (true) or a voter (false).
func (c *Cluster) SetLearner(name string, learner bool) *Cluster {
	return c.update([]string{name}, func(m *member) { m.pb.IsLearner = learner })
}

// SetStatusErrors sets the errors the named member's Status reports
// (etcd's alarms, e.g. "NOSPACE"); none clears them.
func (c *Cluster) SetStatusErrors(name string, errs ...string) *Cluster {
	return c.update([]string{name}, func(m *member) { m.errors = slices.Clone(errs) })
}

// SetLeader makes the named member the leader.
func (c *Cluster) SetLeader(name string) *Cluster {
	return c.update([]string{name}, func(m *member) { c.leader = m.pb.ID })
}

// SetRevision sets the revision Status and MemberList headers report.
func (c *Cluster) SetRevision(rev int64) *Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revision = rev
	return c
}

// SetSnapshot sets what SnapshotWithVersion streams (a database followed
// by etcd's sha256 trailer, for a real snapshot) and the storage version
// it reports ("" keeps the current one).
func (c *Cluster) SetSnapshot(data []byte, version string) *Cluster {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.snapshot = slices.Clone(data)
	if version != "" {
		c.snapVersion = version
	}
	return c
}

// Member returns a copy of the named member, or nil.
func (c *Cluster) Member(name string) *pb.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.byName(name); m != nil {
		return clone(m.pb)
	}
	return nil
}

// Members returns copies of the current members, in order.
func (c *Cluster) Members() []*pb.Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*pb.Member
	for _, m := range c.members {
		out = append(out, clone(m.pb))
	}
	return out
}

// Removed returns the IDs MemberRemove removed, in order.
func (c *Cluster) Removed() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.removed)
}

func clone(m *pb.Member) *pb.Member {
	return &pb.Member{ID: m.ID, Name: m.Name, PeerURLs: slices.Clone(m.PeerURLs), ClientURLs: slices.Clone(m.ClientURLs), IsLearner: m.IsLearner}
}

func (c *Cluster) header() *pb.ResponseHeader {
	return &pb.ResponseHeader{MemberId: c.leader, Revision: c.revision}
}

// Endpoints returns the client URLs of the current members.
func (c *Cluster) Endpoints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.members {
		out = append(out, m.pb.ClientURLs...)
	}
	return out
}

// MemberList returns copies of the current members. Options are accepted
// and ignored.
func (c *Cluster) MemberList(ctx context.Context, _ ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("member list: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	resp := &clientv3.MemberListResponse{Header: c.header()}
	for _, m := range c.members {
		resp.Members = append(resp.Members, clone(m.pb))
	}
	return resp, nil
}

// MemberRemove removes the member with id and records it, or returns
// rpctypes.ErrMemberNotFound.
func (c *Cluster) MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("member remove %x: %w", id, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.members {
		if m.pb.ID == id {
			c.members = slices.Delete(c.members, i, i+1)
			c.removed = append(c.removed, id)
			resp := &clientv3.MemberRemoveResponse{Header: c.header()}
			for _, m := range c.members {
				resp.Members = append(resp.Members, clone(m.pb))
			}
			return resp, nil
		}
	}
	return nil, rpctypes.ErrMemberNotFound
}

// Status reports the member at endpoint (one of its client URLs).
func (c *Cluster) Status(ctx context.Context, endpoint string) (*clientv3.StatusResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("status %s: %w", endpoint, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.reach(endpoint)
	if err != nil {
		return nil, fmt.Errorf("status %s: %w", endpoint, err)
	}
	h := c.header()
	h.MemberId = m.pb.ID
	return &clientv3.StatusResponse{
		Header: h, Leader: c.leader, Version: c.version, DbSize: int64(len(c.snapshot)),
		Errors: slices.Clone(m.errors), IsLearner: m.pb.IsLearner, RaftIndex: uint64(c.revision),
	}, nil
}

// reach returns the member at client URL u when it is up. c.mu is held.
func (c *Cluster) reach(u string) (*member, error) {
	m := c.byURL(u)
	switch {
	case m == nil:
		return nil, ErrUnknownEndpoint
	case m.down:
		return nil, fmt.Errorf("%s: %w", m.pb.Name, ErrMemberDown)
	}
	return m, nil
}

// CheckHealth returns nil when the member at clientURL is up
// (member.HealthChecker).
func (c *Cluster) CheckHealth(ctx context.Context, clientURL string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("health %s: %w", clientURL, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.reach(clientURL); err != nil {
		return fmt.Errorf("health %s: %w", clientURL, err)
	}
	return nil
}

// CheckLearnerHealth is CheckHealth for a learner (a serializable read in
// the real checker).
func (c *Cluster) CheckLearnerHealth(ctx context.Context, clientURL string) error {
	return c.CheckHealth(ctx, clientURL)
}

// SnapshotWithVersion streams the snapshot set by SetSnapshot in chunks of
// 32 KiB, as etcd's gRPC stream does; a read after ctx ends returns
// ctx.Err().
func (c *Cluster) SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return &clientv3.SnapshotResponse{
		Header:   c.header(),
		Snapshot: io.NopCloser(&ChunkReader{Ctx: ctx, Data: slices.Clone(c.snapshot), Chunk: 32 << 10}),
		Version:  c.snapVersion,
	}, nil
}
