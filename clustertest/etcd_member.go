// EtcdMember: one etcd process of an EtcdCluster, and the faults tests
// inflict on it (kill, stop, start).

package clustertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

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
	id      uint64 // known for members added by AddLearner

	mu      sync.Mutex
	proc    *process
	learner bool // added by AddLearner, not yet promoted
}

// launch starts the member's process unless it is running.
func (m *EtcdMember) launch() error {
	// Hold the cluster lock while starting so Close either sees the new
	// process or prevents it.
	m.cluster.mu.Lock()
	defer m.cluster.mu.Unlock()
	if m.cluster.closed {
		return fmt.Errorf("clustertest: starting etcd member %s: cluster closed", m.Name)
	}
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

// waitReady polls the member until it serves a linearizable read (a
// serializable one for a learner, which refuses linearizable reads), its
// process exits, or ctx ends.
func (m *EtcdMember) waitReady(ctx context.Context) error {
	p := m.current()
	if p == nil {
		return fmt.Errorf("clustertest: etcd member %s is not started", m.Name)
	}
	start := time.Now()
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
		if m.IsLearner() {
			last = etcdSerializableReadOnce(ctx, cl)
		} else {
			last = etcdReadOnce(ctx, cl)
		}
		return last == nil, nil
	})
	if err != nil && !p.running() {
		err = m.exitError(p)
	}
	if err != nil {
		if last != nil && p.running() {
			err = fmt.Errorf("%w (last check: %v; member log: %s)", err, last, exitSummary(p.logFile.Name(), p.logOffset))
		}
		return fmt.Errorf("clustertest: waiting for etcd member %s: %w", m.Name, err)
	}
	m.cluster.logger.Debug("etcd member ready", "member", m.Name, "waited", time.Since(start))
	return nil
}

// waitPeerServing polls the member's peer URL until it answers GET /version
// (with the member's peer certificate), its process exits, or ctx ends.
func (m *EtcdMember) waitPeerServing(ctx context.Context) error {
	p := m.current()
	if p == nil {
		return fmt.Errorf("clustertest: etcd member %s is not started", m.Name)
	}
	err := waitEtcdPeerServing(ctx, m.PeerURL, m.PeerTLS, p.exited())
	if err != nil && !p.running() {
		err = m.exitError(p)
	}
	if err != nil {
		return fmt.Errorf("clustertest: waiting for etcd member %s to serve peers: %w", m.Name, err)
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

// Kill sends SIGKILL to the member's process and waits for it to die, like a
// crash. Killing a stopped member is a no-op.
//
// When the remaining running members still form a quorum, Kill then waits
// (up to 10s) until they serve a linearizable read again, i.e. have a leader:
// a request sent right after the leader is killed would otherwise be
// forwarded to the dead leader, dropped, and time out after etcd's 6s
// request timeout.
func (m *EtcdMember) Kill() error {
	p := m.current()
	if p == nil || !p.running() {
		return nil
	}
	m.cluster.logger.Info("killing etcd member", "member", m.Name, "pid", p.pid())
	if err := p.kill(); err != nil {
		return err
	}
	m.cluster.waitSurvivors()
	return nil
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
