package host

import (
	"context"
	"errors"
	"fmt"
	"net"

	"golang.org/x/crypto/ssh"
)

// Dialer is implemented by hosts that can open a TCP connection from the
// host itself, so that an address such as "localhost:6443" means the
// host's own loopback: what "ssh -L" or running a command on the master
// would reach. lifeboat uses it to talk to a master's kube-apiserver
// through the master's localhost-recovery.kubeconfig when the cluster's
// external API endpoint does not answer (lifecycle.ReachableConfig).
//
// [Local] dials from this process (on a master, its loopback is the
// master's); [SSH] opens a "direct-tcpip" channel on its connection, as
// "ssh -L" does. debugpod.Host does not implement it: it needs the API that is
// unreachable in the case Dialer exists for.
type Dialer interface {
	// DialContext connects to addr ("host:port") on network ("tcp") from
	// the host. ctx bounds the dial only, not the returned connection.
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

var (
	_ Dialer = (*Local)(nil)
	_ Dialer = (*SSH)(nil)
)

// DialContext dials addr from the machine this process runs on.
func (l *Local) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("host %s: dial %s: %w", l.name, addr, err)
	}
	return c, nil
}

// DialContext opens a "direct-tcpip" channel to addr, resolved and
// connected by the remote host's SSH server (as "ssh -L" does). A lost
// connection is redialled once; a channel the server rejects (nothing
// listens at addr, forwarding disabled) is returned as is. ctx ending before the channel opens
// closes the connection (the next operation redials) and returns
// ctx.Err().
func (s *SSH) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, fmt.Errorf("ssh %s: closed", s.cfg.Addr)
	}
	conn, err := s.client.DialContext(ctx, network, addr)
	if err == nil {
		return conn, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("ssh %s: dial %s: %w", s.cfg.Addr, addr, ctx.Err())
	}
	var rejected *ssh.OpenChannelError
	if errors.As(err, &rejected) {
		// The server answered: the connection is fine, the address is not.
		return nil, fmt.Errorf("ssh %s: dial %s: %w", s.cfg.Addr, addr, err)
	}
	s.log.Debug("ssh dial failed, reconnecting", "addr", addr, "err", err)
	s.client.Close()
	client, derr := s.dial(ctx)
	if derr != nil {
		return nil, fmt.Errorf("ssh %s: dial %s: %v; reconnecting: %w", s.cfg.Addr, addr, err, derr)
	}
	s.client = client
	conn, err = s.client.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: dial %s: %w", s.cfg.Addr, addr, err)
	}
	return conn, nil
}
