package clustertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/util/wait"
)

// EtcdOptions configure an etcd cluster started by StartEtcd or
// NewEtcdCluster. The zero value is a 3-member cluster in a temporary
// directory.
type EtcdOptions struct {
	// Members is the number of members; 0 means 3. Members are named
	// "master-0", "master-1", ...
	Members int
	// Dir holds the CA and certificates (Dir/pki), the member data dirs
	// (Dir/<member>/data) and logs (Dir/<member>.log). Empty means t.TempDir()
	// for StartEtcd and a new temporary directory, removed by Close, for
	// NewEtcdCluster.
	Dir string
	// Logger receives the cluster's events (members started, stopped,
	// killed); nil discards them. etcd's own logs go to the member log files.
	Logger *slog.Logger
	// QuotaBackendBytes is etcd's --quota-backend-bytes; 0 keeps etcd's default.
	QuotaBackendBytes int64
	// ExtraArgs are appended to every member's command line.
	ExtraArgs []string
	// Binaries locate etcd; nil means FindBinaries (only Etcd must exist).
	Binaries *Binaries
	// StartTimeout bounds the wait for the cluster to become healthy; 0 means
	// one minute.
	StartTimeout time.Duration
}

// EtcdCluster is a cluster of real etcd processes on loopback, with TLS
// (client certificate authentication on) on client and peer URLs, ports chosen
// at run time. Use its Client, or Endpoints and ClientTLS with etcdctl or
// etcdconn. Members can be killed, stopped and started again to simulate
// failures.
type EtcdCluster struct {
	// Members in name order.
	Members []*EtcdMember
	// PKI is the CA that issued every certificate of the cluster; tests may
	// issue more (e.g. a kube-apiserver's etcd client certificate).
	PKI *PKI

	dir       string
	removeDir bool
	binary    string
	logger    *slog.Logger
	clientTLS TLSFiles
	// extraArgs are EtcdOptions.ExtraArgs (and the quota), for learners
	// added later.
	extraArgs []string

	mu      sync.Mutex
	ctx     context.Context // ends on Close
	cancel  context.CancelFunc
	clients []*clientv3.Client
	closed  bool
	// ports are the members' loopback ports, reserved (ports.go).
	ports portReservations
}

// StartEtcd starts an etcd cluster for the test and registers its Close with
// t.Cleanup. It fails the test if the cluster does not come up. When the test
// fails, the tail of each member's log is written to the test log.
func StartEtcd(t testing.TB, opts EtcdOptions) *EtcdCluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	c, err := NewEtcdCluster(t.Context(), opts)
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.LogTails(t, 40)
		}
		if err := c.Close(); err != nil {
			t.Errorf("closing etcd: %v", err)
		}
	})
	return c
}

// NewEtcdCluster starts a new etcd cluster and waits until every member
// serves a linearizable read. The caller must Close it. ctx bounds the
// startup only; the processes run until Close. Member data dirs left in
// opts.Dir by an earlier cluster are removed: the cluster is always new
// (a CA already in Dir/pki is reused).
func NewEtcdCluster(ctx context.Context, opts EtcdOptions) (*EtcdCluster, error) {
	return newEtcdCluster(ctx, opts)
}

func newEtcdCluster(ctx context.Context, opts EtcdOptions) (_ *EtcdCluster, err error) {
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Members < 0 {
		return nil, fmt.Errorf("clustertest: invalid etcd member count %d", opts.Members)
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = time.Minute
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var bin Binaries
	if opts.Binaries != nil {
		bin = *opts.Binaries
	} else {
		bin, _ = FindBinaries()
	}
	if err := checkExecutable(bin.Etcd); err != nil {
		return nil, fmt.Errorf("%w: etcd %s: %v", ErrBinariesMissing, bin.Etcd, err)
	}

	// The cluster's own context: outlives the startup ctx, ends on Close.
	cctx, ccancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &EtcdCluster{binary: bin.Etcd, logger: logger, ctx: cctx, cancel: ccancel}
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "lifeboat-etcd-")
		if err != nil {
			return nil, fmt.Errorf("clustertest: creating etcd dir: %w", err)
		}
		opts.Dir, c.removeDir = d, true
	}
	c.dir = opts.Dir
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.PKI, err = NewPKI(filepath.Join(c.dir, "pki")); err != nil {
		return nil, err
	}
	if c.clientTLS, err = c.PKI.Issue("etcd-client", CertOptions{CommonName: "root", Client: true}); err != nil {
		return nil, err
	}
	for i := range opts.Members {
		name := fmt.Sprintf("master-%d", i)
		m := &EtcdMember{
			Name:    name,
			DataDir: filepath.Join(c.dir, name, "data"),
			LogFile: filepath.Join(c.dir, name+".log"),
			cluster: c,
		}
		if m.ServerTLS, m.PeerTLS, err = issueEtcdMemberCerts(c.PKI, name); err != nil {
			return nil, err
		}
		c.Members = append(c.Members, m)
	}

	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err = c.bootstrap(ctx, opts)
		if err == nil {
			break
		}
		// Another process may have taken a port between freePort and etcd's
		// bind: start over on new ports.
		if attempt >= etcdStartAttempts || !errors.Is(err, errPortInUse) {
			return nil, err
		}
		logger.Info("etcd bootstrap hit a busy port; retrying", "attempt", attempt, "err", err)
	}
	logger.Info("etcd cluster healthy", "members", len(c.Members), "elapsed", time.Since(start), "endpoints", c.Endpoints())
	return c, nil
}

var errPortInUse = errors.New("address already in use")

// bootstrap assigns ports, starts every member of a new cluster and waits for
// all of them to serve. On failure it kills the members and clears their data
// dirs so it can be retried.
func (c *EtcdCluster) bootstrap(ctx context.Context, opts EtcdOptions) error {
	var initial []string
	for _, m := range c.Members {
		cp, err := c.ports.alloc()
		if err != nil {
			return err
		}
		pp, err := c.ports.alloc()
		if err != nil {
			return err
		}
		m.ClientURL = "https://127.0.0.1:" + strconv.Itoa(cp)
		m.PeerURL = "https://127.0.0.1:" + strconv.Itoa(pp)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	token := make([]byte, 8)
	rand.Read(token)
	for _, m := range c.Members {
		if err := os.RemoveAll(filepath.Dir(m.DataDir)); err != nil {
			return fmt.Errorf("clustertest: clearing %s: %w", m.DataDir, err)
		}
		if err := os.MkdirAll(filepath.Dir(m.DataDir), 0o700); err != nil {
			return fmt.Errorf("clustertest: creating %s: %w", m.DataDir, err)
		}
		m.args = etcdMemberArgs(etcdMemberConfig{
			Name:              m.Name,
			DataDir:           m.DataDir,
			ClientURL:         m.ClientURL,
			PeerURL:           m.PeerURL,
			InitialCluster:    strings.Join(initial, ","),
			InitialClusterNew: true,
			ClusterToken:      "lifeboat-" + hex.EncodeToString(token),
			ServerTLS:         m.ServerTLS,
			PeerTLS:           m.PeerTLS,
			QuotaBackendBytes: opts.QuotaBackendBytes,
		})
		m.args = append(m.args, opts.ExtraArgs...)
	}
	c.extraArgs = slices.Clone(opts.ExtraArgs)
	if opts.QuotaBackendBytes > 0 {
		c.extraArgs = append(c.extraArgs, "--quota-backend-bytes="+strconv.FormatInt(opts.QuotaBackendBytes, 10))
	}
	// Start members one after the other, each once the previous one serves
	// its peer URL. etcd bootstrapping a new cluster first asks every peer
	// whether it already joined, waiting up to a second for each peer that
	// accepts connections but does not answer yet -- which is what members
	// started at the same moment do to each other. Peers that refuse the
	// connection or answer are dealt with in milliseconds.
	for _, m := range c.Members {
		if err := m.launch(); err != nil {
			c.killAll()
			return err
		}
		if err := m.waitPeerServing(ctx); err != nil {
			c.killAll()
			return err
		}
	}
	if err := c.waitMembers(ctx, c.Members); err != nil {
		c.killAll()
		return err
	}
	return nil
}

// killAll kills every member without waiting for anything.
func (c *EtcdCluster) killAll() {
	for _, m := range c.Members {
		if p := m.current(); p != nil {
			p.kill()
		}
	}
}

// waitMembers waits until every member in ms serves a linearizable read. It
// fails early when a member's process exits.
func (c *EtcdCluster) waitMembers(ctx context.Context, ms []*EtcdMember) error {
	errs := make(chan error, len(ms))
	for _, m := range ms {
		go func() { errs <- m.waitReady(ctx) }()
	}
	var all []error
	for range ms {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// Close kills every member and closes the clients returned by Client. It
// removes the cluster directory only if NewEtcdCluster created it. Close is
// idempotent.
func (c *EtcdCluster) Close() error {
	c.mu.Lock()
	clients := c.clients
	c.clients = nil
	already := c.closed
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	for _, cl := range clients {
		cl.Close()
	}
	var errs []error
	for _, m := range c.Members {
		if p := m.current(); p != nil {
			if err := p.kill(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	c.ports.release()
	if c.removeDir && !already {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("clustertest: removing %s: %w", c.dir, err))
		}
	}
	return errors.Join(errs...)
}

// Dir is the directory holding the cluster's PKI, data and logs.
func (c *EtcdCluster) Dir() string { return c.dir }

// Endpoints are the members' client URLs, in member order.
func (c *EtcdCluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.ClientURL
	}
	return eps
}

// ClientTLS are the CA and client certificate files to reach the cluster
// with (etcdctl --cacert/--cert/--key, or ETCDCTL_CACERT/CERT/KEY).
func (c *EtcdCluster) ClientTLS() TLSFiles { return c.clientTLS }

// Member returns the member with the given name, or nil.
func (c *EtcdCluster) Member(name string) *EtcdMember {
	for _, m := range c.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Client returns a client for all endpoints, authenticated with ClientTLS.
// The cluster closes it on Close if the caller has not. ctx is checked for
// cancellation only: the client connects lazily and is not bound to ctx.
func (c *EtcdCluster) Client(ctx context.Context) (*clientv3.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cl, err := newEtcdClient(c.Endpoints(), c.clientTLS)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		cl.Close()
		return nil, errors.New("clustertest: etcd cluster closed")
	}
	c.clients = append(c.clients, cl)
	return cl, nil
}

// StartMembers starts the named stopped members (all stopped members when no
// name is given) together and waits until each serves a linearizable read.
// Use it to bring back members of a cluster that lost quorum, where starting
// them one by one with Start would wait forever on the first.
func (c *EtcdCluster) StartMembers(ctx context.Context, names ...string) error {
	var ms []*EtcdMember
	if len(names) == 0 {
		ms = c.Members
	}
	for _, n := range names {
		m := c.Member(n)
		if m == nil {
			return fmt.Errorf("clustertest: no etcd member %q", n)
		}
		ms = append(ms, m)
	}
	for _, m := range ms {
		if err := m.launch(); err != nil {
			return err
		}
	}
	return c.waitMembers(ctx, ms)
}

// LogTails writes the last n lines of every member's log to t's log.
func (c *EtcdCluster) LogTails(t testing.TB, n int) {
	t.Helper()
	for _, m := range c.Members {
		t.Logf("--- last %d lines of etcd member %s log (%s) ---\n%s", n, m.Name, m.LogFile, tailFile(m.LogFile, n))
	}
}

// waitSurvivors waits until the running members serve a linearizable read,
// if they are a quorum and the cluster is not closing.
func (c *EtcdCluster) waitSurvivors() {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	var eps []string
	voters := 0
	for _, m := range c.Members {
		if m.IsLearner() {
			continue // learners neither vote nor serve linearizable reads
		}
		voters++
		if m.Running() {
			eps = append(eps, m.ClientURL)
		}
	}
	if closed || len(eps) < voters/2+1 {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	cl, err := newEtcdClient(eps, c.clientTLS)
	if err != nil {
		return
	}
	defer cl.Close()
	start := time.Now()
	err = wait.PollUntilContextCancel(ctx, etcdPollInterval, true, func(ctx context.Context) (bool, error) {
		return etcdReadOnce(ctx, cl) == nil, nil
	})
	c.logger.Debug("surviving etcd members serve again", "members", len(eps), "waited", time.Since(start), "err", err)
}
