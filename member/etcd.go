package member

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/internal/safego"
)

// Cluster is the part of *clientv3.Client that lists and removes members.
type Cluster interface {
	// MemberList lists the current cluster membership. It is linearizable
	// unless clientv3.WithSerializable() is passed.
	MemberList(ctx context.Context, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error)
	// MemberRemove removes an existing member from the cluster.
	MemberRemove(ctx context.Context, id uint64) (*clientv3.MemberRemoveResponse, error)
}

// dialer is the part of *clientv3.Client that connects to one endpoint with
// the client's own credentials.
type dialer interface {
	Dial(ep string) (*grpc.ClientConn, error)
}

var (
	_ Cluster = (*clientv3.Client)(nil)
	_ dialer  = (*clientv3.Client)(nil)
)

// HealthChecker checks one voting member, reached at one of its client
// URLs.
type HealthChecker interface {
	// CheckHealth returns nil when the member at clientURL serves a
	// linearizable read (what "etcdctl endpoint health" does). It must
	// return when ctx ends. lifeboat calls it on goroutines of its own; a
	// panic fails that member's check with a *lifeboat.PanicError
	// (errors.Is lifeboat.ErrPanicked), as a returned error would.
	CheckHealth(ctx context.Context, clientURL string) error
}

// learnerHealthChecker is implemented by a HealthChecker that can also
// check a learner. A learner does not vote and refuses linearizable reads
// ("etcdserver: rpc not supported for learner"), so its health is a
// serializable read on its own client URL, as cluster-etcd-operator checks
// it. checkMembers uses CheckLearnerHealth for learners when the checker
// has it, and CheckHealth otherwise.
type learnerHealthChecker interface {
	// CheckLearnerHealth returns nil when the learner at clientURL serves
	// a serializable read. It must return when ctx ends.
	CheckLearnerHealth(ctx context.Context, clientURL string) error
}

// healthCheckFunc adapts a function to HealthChecker.
type healthCheckFunc func(ctx context.Context, clientURL string) error

// CheckHealth calls f.
func (f healthCheckFunc) CheckHealth(ctx context.Context, clientURL string) error {
	return f(ctx, clientURL)
}

// newDialHealthChecker checks a member by dialing its client URL alone with
// d's credentials (a *clientv3.Client) and reading the key "health":
// linearizably for a voting member (CheckHealth), which succeeds only when
// the member is part of a quorum, and serializably for a learner
// (CheckLearnerHealth; the returned checker is a learnerHealthChecker).
func newDialHealthChecker(d dialer) HealthChecker {
	return dialHealthChecker{d}
}

type dialHealthChecker struct{ d dialer }

var _ learnerHealthChecker = dialHealthChecker{}

func (h dialHealthChecker) CheckHealth(ctx context.Context, clientURL string) error {
	return h.read(ctx, clientURL, false)
}

func (h dialHealthChecker) CheckLearnerHealth(ctx context.Context, clientURL string) error {
	return h.read(ctx, clientURL, true)
}

func (h dialHealthChecker) read(ctx context.Context, clientURL string, serializable bool) error {
	conn, err := h.d.Dial(clientURL)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = pb.NewKVClient(conn).Range(ctx, &pb.RangeRequest{Key: []byte("health"), Serializable: serializable}, grpc.WaitForReady(true))
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
	}
	return err
}

// checkOne checks m with hc: a learner with CheckLearnerHealth when hc has
// it.
func checkOne(ctx context.Context, hc HealthChecker, m MemberHealth) error {
	if lh, ok := hc.(learnerHealthChecker); ok && m.IsLearner {
		return lh.CheckLearnerHealth(ctx, m.ClientURLs[0])
	}
	return hc.CheckHealth(ctx, m.ClientURLs[0])
}

// healthCheckerFor returns h, or a checker dialing through c when h is
// nil; option names h in the error when neither can check (e.g.
// "member.Deps.Health").
func healthCheckerFor(option string, h HealthChecker, c any) (HealthChecker, error) {
	if h != nil {
		return h, nil
	}
	if d, ok := c.(dialer); ok {
		return newDialHealthChecker(d), nil
	}
	return nil, opterr.New(option, "is required: the etcd client cannot dial single endpoints")
}

// MemberHealth is one member and the result of its health check.
type MemberHealth struct {
	ID         uint64
	Name       string // empty until the member has started
	PeerURLs   []string
	ClientURLs []string
	// IsLearner: the member does not vote (yet). Its health is a
	// serializable read, and it counts for no quorum.
	IsLearner bool
	// Started is false for a member that was added but never started
	// (no name, no client URLs): etcdctl's "unstarted".
	Started bool
	Healthy bool
	// Err is why the member is unhealthy.
	Err  error
	Took time.Duration
}

// DisplayName is the member name or, for an unstarted member, the host of
// its first peer URL (what the etcd operator prints).
func (m MemberHealth) DisplayName() string {
	if m.Name != "" {
		return m.Name
	}
	for _, p := range m.PeerURLs {
		if u, err := url.Parse(p); err == nil && u.Hostname() != "" {
			return u.Hostname()
		}
	}
	return fmt.Sprintf("%x", m.ID)
}

// Health describes the member's health in the words of
// "etcdctl endpoint health"; a learner is marked "(learner)".
func (m MemberHealth) Health() string {
	ep := m.DisplayName()
	if len(m.ClientURLs) > 0 {
		ep = m.ClientURLs[0]
	}
	if m.IsLearner {
		ep += " (learner)"
	}
	switch {
	case !m.Started && m.IsLearner:
		return fmt.Sprintf("%s (%x, learner) has not started", m.DisplayName(), m.ID)
	case !m.Started:
		return fmt.Sprintf("%s (%x) has not started", m.DisplayName(), m.ID)
	case m.Healthy && m.IsLearner:
		return fmt.Sprintf("%s is healthy: served a serializable read: took = %v", ep, m.Took)
	case m.Healthy:
		return fmt.Sprintf("%s is healthy: successfully committed proposal: took = %v", ep, m.Took)
	default:
		return fmt.Sprintf("%s is unhealthy: failed to commit proposal: %v", ep, m.Err)
	}
}

// checkMembers checks every member in parallel, each with its own timeout,
// and returns the results in the order of members. Voting members get
// hc.CheckHealth; learners get a serializable read when hc is a
// learnerHealthChecker (newDialHealthChecker's is). A check that panics
// (on the goroutine started here) fails that member's check with a
// *lifeboat.PanicError, as an error it returned would.
func checkMembers(ctx context.Context, hc HealthChecker, members []*pb.Member, timeout time.Duration) []MemberHealth {
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	out := make([]MemberHealth, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		out[i] = MemberHealth{
			ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs,
			IsLearner: m.IsLearner, Started: len(m.ClientURLs) > 0,
		}
		if !out[i].Started {
			out[i].Err = errors.New("member has not started")
			continue
		}
		wg.Add(1)
		go func(r *MemberHealth) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			// hc is the caller's: its panic is this member's failed check.
			err := safego.Call("member.HealthChecker check of "+r.ClientURLs[0], func() error { return checkOne(cctx, hc, *r) })
			r.Took = time.Since(start)
			r.Healthy, r.Err = err == nil, err
		}(&out[i])
	}
	wg.Wait()
	return out
}

// defaultHealthTimeout bounds one member's health check when the caller
// gives no timeout; etcdctl's default command timeout.
const defaultHealthTimeout = 5 * time.Second

// quorum of n voting members.
func quorum(n int) int { return n/2 + 1 }

// votingHealth counts voting members and healthy voting members: learners
// vote in no quorum, whatever their health.
func votingHealth(hs []MemberHealth) (voting, healthy int) {
	for _, h := range hs {
		if h.IsLearner {
			continue
		}
		voting++
		if h.Healthy {
			healthy++
		}
	}
	return voting, healthy
}

// listMembers lists members linearizably; when that fails (no quorum), it
// falls back to the serializable list of whichever member answers, and
// reports linearizable=false.
func listMembers(ctx context.Context, c Cluster, timeout time.Duration) (members []*pb.Member, linearizable bool, err error) {
	lctx, cancel := context.WithTimeout(ctx, timeout)
	resp, err := c.MemberList(lctx)
	cancel()
	if err == nil {
		return resp.Members, true, nil
	}
	if ctx.Err() != nil {
		return nil, false, ctx.Err()
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, serr := c.MemberList(sctx, clientv3.WithSerializable())
	if serr != nil {
		return nil, false, fmt.Errorf("listing etcd members: %w", err)
	}
	return resp.Members, false, nil
}
