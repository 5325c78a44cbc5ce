package clustertest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
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

	mu      sync.Mutex
	clients []*clientv3.Client
	closed  bool
}

// EtcdMember is one member of an EtcdCluster. Its methods are safe for
// concurrent use.
type EtcdMember struct {
	Name      string
	ClientURL string // https://127.0.0.1:<port>
	PeerURL   string // https://127.0.0.1:<port>
	DataDir   string
	// LogFile receives the member's stdout and stderr (appended across
	// restarts).
	LogFile string
	// ServerTLS and PeerTLS are the member's serving and peer certificates.
	ServerTLS, PeerTLS TLSFiles

	cluster *EtcdCluster
	args    []string

	mu   sync.Mutex
	proc *process
}

// Timing of the simulated etcd members: a loopback cluster elects a leader in
// well under a second with these, instead of etcd's defaults of 100ms/1s.
const (
	etcdHeartbeatMillis = 50
	etcdElectionMillis  = 500
	etcdStopTimeout     = 10 * time.Second
	etcdPollInterval    = 50 * time.Millisecond
	etcdStartAttempts   = 3
)

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

// NewEtcdCluster starts an etcd cluster and waits until every member serves a
// linearizable read. The caller must Close it. ctx bounds the startup only;
// the processes run until Close.
func NewEtcdCluster(ctx context.Context, opts EtcdOptions) (_ *EtcdCluster, err error) {
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

	c := &EtcdCluster{binary: bin.Etcd, logger: logger}
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
		if m.ServerTLS, m.PeerTLS, err = IssueEtcdMemberCerts(c.PKI, name); err != nil {
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
		cp, err := freePort()
		if err != nil {
			return err
		}
		pp, err := freePort()
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
		m.args = EtcdMemberArgs(EtcdMemberConfig{
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
	for _, m := range c.Members {
		if err := m.launch(); err != nil {
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

func (c *EtcdCluster) killAll() {
	for _, m := range c.Members {
		m.Kill()
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
	for _, cl := range clients {
		cl.Close()
	}
	var errs []error
	for _, m := range c.Members {
		if err := m.Kill(); err != nil {
			errs = append(errs, err)
		}
	}
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

// launch starts the member's process unless it is running.
func (m *EtcdMember) launch() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc != nil && m.proc.running() {
		return nil
	}
	argv := append([]string{m.cluster.binary}, m.args...)
	p, err := startProcess("etcd member "+m.Name, argv, nil, m.LogFile)
	if err != nil {
		return err
	}
	m.proc = p
	m.cluster.logger.Info("etcd member started", "member", m.Name, "pid", p.pid(), "client", m.ClientURL)
	return nil
}

func (m *EtcdMember) current() *process {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// waitReady polls the member until it serves a linearizable read, its
// process exits, or ctx ends.
func (m *EtcdMember) waitReady(ctx context.Context) error {
	p := m.current()
	if p == nil {
		return fmt.Errorf("clustertest: etcd member %s is not started", m.Name)
	}
	cl, err := newEtcdClient([]string{m.ClientURL}, m.cluster.clientTLS)
	if err != nil {
		return err
	}
	defer cl.Close()
	// Stop waiting as soon as the process exits.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.exited():
			cancel()
		case <-ctx.Done():
		}
	}()
	var last error
	err = wait.PollUntilContextCancel(ctx, etcdPollInterval, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.exited():
			return false, m.exitError(p)
		default:
		}
		last = etcdReadOnce(ctx, cl)
		return last == nil, nil
	})
	if err != nil && !p.running() {
		err = m.exitError(p)
	}
	if err != nil {
		if last != nil && p.running() {
			err = fmt.Errorf("%w (last check: %v)", err, last)
		}
		return fmt.Errorf("clustertest: waiting for etcd member %s: %w", m.Name, err)
	}
	return nil
}

func (m *EtcdMember) exitError(p *process) error {
	why := exitSummary(p.logFile.Name(), p.logOffset)
	err := fmt.Errorf("etcd member %s exited (code %d): %s", m.Name, p.exitCode(), why)
	if strings.Contains(why, "address already in use") {
		return fmt.Errorf("%w: %w", errPortInUse, err)
	}
	return err
}

// exitSummary picks the lines that say why a process exited from its log,
// reading what it wrote from offset on: its fatal or panic lines, else lines
// mentioning an error, else its first lines (a usage message starts with the
// complaint).
func exitSummary(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	const maxBytes = 256 << 10
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > maxBytes {
		offset = fi.Size() - maxBytes
	}
	data, err := io.ReadAll(io.NewSectionReader(f, offset, maxBytes))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	pick := func(match func(string) bool) []string {
		var out []string
		for _, l := range lines {
			if match(l) {
				out = append(out, strings.TrimSpace(l))
			}
		}
		if len(out) > 3 {
			out = out[len(out)-3:]
		}
		return out
	}
	out := pick(func(l string) bool {
		return strings.Contains(l, `"level":"fatal"`) || strings.Contains(l, `"level":"panic"`) || strings.HasPrefix(l, "panic:")
	})
	if len(out) == 0 {
		out = pick(func(l string) bool { return strings.Contains(strings.ToLower(l), "error") })
	}
	if len(out) == 0 {
		out = lines[:min(3, len(lines))]
	}
	return strings.Join(out, " | ")
}

// etcdReadOnce does one linearizable read, bounded to a second.
func etcdReadOnce(ctx context.Context, cl *clientv3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err := cl.Get(ctx, "health")
	return err
}

// Kill sends SIGKILL to the member's process and waits for it to die, like a
// crash. Killing a stopped member is a no-op.
func (m *EtcdMember) Kill() error {
	p := m.current()
	if p == nil {
		return nil
	}
	if p.running() {
		m.cluster.logger.Info("killing etcd member", "member", m.Name, "pid", p.pid())
	}
	return p.kill()
}

// Stop sends SIGTERM to the member's process and waits for it to exit
// (SIGKILL after 10s). Stopping a stopped member is a no-op.
func (m *EtcdMember) Stop() error {
	p := m.current()
	if p == nil {
		return nil
	}
	if p.running() {
		m.cluster.logger.Info("stopping etcd member", "member", m.Name, "pid", p.pid())
	}
	return p.stop(etcdStopTimeout)
}

// Start restarts a stopped or killed member on its data dir and ports, and
// waits until it has rejoined and serves a linearizable read (which needs a
// quorum of running members; see EtcdCluster.StartMembers). Starting a
// running member only waits for it to be ready.
func (m *EtcdMember) Start(ctx context.Context) error {
	if err := m.launch(); err != nil {
		return err
	}
	return m.waitReady(ctx)
}

// Running reports whether the member's process is alive.
func (m *EtcdMember) Running() bool {
	p := m.current()
	return p != nil && p.running()
}

// PID is the member's process id, or 0 when it is not running.
func (m *EtcdMember) PID() int {
	p := m.current()
	if p == nil || !p.running() {
		return 0
	}
	return p.pid()
}

// Exited is closed when the member's current process exits (closed already
// when the member is not running).
func (m *EtcdMember) Exited() <-chan struct{} {
	p := m.current()
	if p == nil {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	return p.exited()
}

// IssueEtcdMemberCerts issues a member's serving certificate
// ("etcd-serving-<name>", server and client usage, for 127.0.0.1 and
// localhost) and peer certificate ("etcd-peer-<name>", both usages), as the
// etcd operator does for each master.
func IssueEtcdMemberCerts(p *PKI, name string) (server, peer TLSFiles, err error) {
	sans := CertOptions{
		CommonName: "system:etcd-server:" + name,
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if server, err = p.Issue("etcd-serving-"+name, sans); err != nil {
		return TLSFiles{}, TLSFiles{}, err
	}
	sans.CommonName = "system:etcd-peer:" + name
	if peer, err = p.Issue("etcd-peer-"+name, sans); err != nil {
		return TLSFiles{}, TLSFiles{}, err
	}
	return server, peer, nil
}

// EtcdMemberConfig describe one member's command line (see EtcdMemberArgs).
type EtcdMemberConfig struct {
	Name, DataDir      string
	ClientURL, PeerURL string
	// InitialCluster is the --initial-cluster value (name=peerURL,...).
	InitialCluster string
	// InitialClusterNew selects --initial-cluster-state new; false is
	// "existing" (a member added to a running cluster).
	InitialClusterNew bool
	ClusterToken      string
	ServerTLS         TLSFiles
	PeerTLS           TLSFiles
	QuotaBackendBytes int64
}

// EtcdMemberArgs returns the etcd arguments (without the binary) for a member
// with TLS and client certificate authentication on client and peer URLs and
// timing suited to loopback. The simulated kubelets run members with the same
// flags.
func EtcdMemberArgs(cfg EtcdMemberConfig) []string {
	state := "existing"
	if cfg.InitialClusterNew {
		state = "new"
	}
	args := []string{
		"--name=" + cfg.Name,
		"--data-dir=" + cfg.DataDir,
		"--listen-client-urls=" + cfg.ClientURL,
		"--advertise-client-urls=" + cfg.ClientURL,
		"--listen-peer-urls=" + cfg.PeerURL,
		"--initial-advertise-peer-urls=" + cfg.PeerURL,
		"--initial-cluster=" + cfg.InitialCluster,
		"--initial-cluster-state=" + state,
		"--cert-file=" + cfg.ServerTLS.CertFile,
		"--key-file=" + cfg.ServerTLS.KeyFile,
		"--trusted-ca-file=" + cfg.ServerTLS.CAFile,
		"--client-cert-auth=true",
		"--peer-cert-file=" + cfg.PeerTLS.CertFile,
		"--peer-key-file=" + cfg.PeerTLS.KeyFile,
		"--peer-trusted-ca-file=" + cfg.PeerTLS.CAFile,
		"--peer-client-cert-auth=true",
		"--heartbeat-interval=" + strconv.Itoa(etcdHeartbeatMillis),
		"--election-timeout=" + strconv.Itoa(etcdElectionMillis),
		"--logger=zap",
		"--log-outputs=stderr",
	}
	if cfg.ClusterToken != "" {
		args = append(args, "--initial-cluster-token="+cfg.ClusterToken)
	}
	if cfg.QuotaBackendBytes > 0 {
		args = append(args, "--quota-backend-bytes="+strconv.FormatInt(cfg.QuotaBackendBytes, 10))
	}
	return args
}

// newEtcdClient returns a client for endpoints using the TLS files. It
// connects lazily; etcd client logging is discarded.
func newEtcdClient(endpoints []string, files TLSFiles) (*clientv3.Client, error) {
	tc, err := tlsConfig(files)
	if err != nil {
		return nil, err
	}
	cl, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tc,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("clustertest: etcd client for %v: %w", endpoints, err)
	}
	return cl, nil
}

// tlsConfig builds a client TLS configuration from PEM files.
func tlsConfig(files TLSFiles) (*tls.Config, error) {
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		return nil, fmt.Errorf("clustertest: reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("clustertest: %s holds no PEM certificate", files.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("clustertest: loading client certificate %s: %w", files.CertFile, err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// tailFile returns the last n lines of a file (or why it cannot be read).
func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	const maxBytes = 64 << 10
	if len(data) > maxBytes {
		data = data[len(data)-maxBytes:]
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
