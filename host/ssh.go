package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// SSHConfig configures an [SSH] host. Zero values are documented per field.
type SSHConfig struct {
	// Name is the node name of the host. Empty means the host part of Addr.
	Name string
	// Addr is "host:port"; a bare host gets port 22.
	Addr string
	// User is the login user. Empty means "core", the RHCOS user the
	// runbook logs in as.
	User string
	// Signer is the private key to authenticate with. If nil, KeyFile is
	// read (an unencrypted OpenSSH or PEM private key).
	Signer ssh.Signer
	// KeyFile is the path of the private key, used when Signer is nil.
	KeyFile string
	// HostKeyCallback checks the server's host key. Required: there is no
	// insecure default. [KnownHosts] builds one from known_hosts files.
	HostKeyCallback ssh.HostKeyCallback
	// HostKeyAlgorithms, if set, restricts and orders the host key
	// algorithms offered, e.g. to the type recorded in known_hosts.
	HostKeyAlgorithms []string
	// NoSudo runs commands directly instead of under "sudo -n", for a login
	// that is root already. The zero value uses sudo, like the runbook's
	// "ssh core@<node> sudo ...".
	NoSudo bool
	// DialTimeout bounds connecting and the SSH handshake. Zero means 30s.
	DialTimeout time.Duration
	// Logger receives debug records of every command. Nil discards them.
	Logger *slog.Logger
}

// HostKeyError is returned by [NewSSH] when the server's host key is
// refused: the host is unknown to the HostKeyCallback, or (Mismatch) a
// different key is known for it, which may mean an impostor.
type HostKeyError struct {
	Addr string
	// Fingerprint is the SHA256 fingerprint of the key the server offered.
	Fingerprint string
	// Mismatch is true when known_hosts holds another key for this host.
	Mismatch bool
	Err      error
}

func (e *HostKeyError) Error() string {
	what := "unknown host key"
	if e.Mismatch {
		what = "host key mismatch (possible impersonation)"
	}
	return fmt.Sprintf("ssh %s: %s %s: %v", e.Addr, what, e.Fingerprint, e.Err)
}

func (e *HostKeyError) Unwrap() error { return e.Err }

// KnownHosts returns a HostKeyCallback that accepts only the keys listed
// for the host in the given OpenSSH known_hosts files (hashed entries and
// "[host]:port" forms included). A refused key makes NewSSH return a
// *HostKeyError. No file, or an empty name, is a *lifeboat.OptionsError.
func KnownHosts(files ...string) (ssh.HostKeyCallback, error) {
	if len(files) == 0 {
		return nil, opterr.Nil("host.KnownHosts files")
	}
	for i, f := range files {
		if f == "" {
			return nil, opterr.New("host.KnownHosts files", "[%d] is empty", i)
		}
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("ssh: reading known_hosts: %w", err)
	}
	return cb, nil
}

// SSH is a master reached over SSH, as in the runbook's "ssh core@<node>"
// followed by "sudo". Every typed operation is one of the runbook's shell
// commands run as "sudo -n sh -c '<command>'" in a new session on one
// shared connection. SSH implements [Host]; it is safe for concurrent use.
// Make it with [NewSSH]: a zero SSH refuses every operation with a
// *lifeboat.OptionsError naming "host.SSH".
type SSH struct {
	*shellHost
	cfg    SSHConfig
	config *ssh.ClientConfig

	mu     sync.Mutex
	client *ssh.Client
}

var _ Host = (*SSH)(nil)

// NewSSH connects to cfg.Addr, checks its host key and authenticates with
// the key. The connection is reused for every operation and re-established
// once if it was lost; Close ends it. Options it cannot use (no Addr, no
// HostKeyCallback, no key, a KeyFile that is encrypted or no private key,
// a negative DialTimeout) are a *lifeboat.OptionsError, before any
// connection.
func NewSSH(ctx context.Context, cfg SSHConfig) (*SSH, error) {
	if cfg.Addr == "" {
		return nil, opterr.Nil("host.SSHConfig.Addr")
	}
	if err := opterr.Negative("host.SSHConfig.DialTimeout", cfg.DialTimeout); err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		cfg.Addr = net.JoinHostPort(cfg.Addr, "22")
	}
	if cfg.HostKeyCallback == nil {
		return nil, opterr.New("host.SSHConfig.HostKeyCallback", "is required (see host.KnownHosts) to reach %s", cfg.Addr)
	}
	if cfg.Name == "" {
		cfg.Name, _, _ = net.SplitHostPort(cfg.Addr)
	}
	if cfg.User == "" {
		cfg.User = "core"
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 30 * time.Second
	}
	signer := cfg.Signer
	if signer == nil {
		if cfg.KeyFile == "" {
			return nil, opterr.New("", "one of host.SSHConfig.Signer or host.SSHConfig.KeyFile is required to reach %s", cfg.Addr)
		}
		pem, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: reading key: %w", cfg.Addr, err)
		}
		signer, err = ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, opterr.New("host.SSHConfig.KeyFile", "%s is encrypted; pass a decrypted Signer", cfg.KeyFile)
		}
		if err != nil {
			return nil, opterr.New("host.SSHConfig.KeyFile", "%s: %w", cfg.KeyFile, err)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("host", cfg.Name)
	s := &SSH{cfg: cfg}
	s.config = &ssh.ClientConfig{
		User:              cfg.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   cfg.HostKeyCallback,
		HostKeyAlgorithms: cfg.HostKeyAlgorithms,
		Timeout:           cfg.DialTimeout,
	}
	s.shellHost = &shellHost{name: cfg.Name, t: s.runLine, log: log}
	client, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.client = client
	return s, nil
}

// dial connects and runs the SSH handshake, bounded by ctx and DialTimeout.
func (s *SSH) dial(ctx context.Context) (*ssh.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", s.cfg.Addr, err)
	}
	// The handshake has no context of its own: close the connection if ctx
	// ends first.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var hkErr *HostKeyError
	config := *s.config
	check := s.config.HostKeyCallback
	config.HostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := check(hostname, remote, key)
		if err != nil {
			hkErr = &HostKeyError{Addr: s.cfg.Addr, Fingerprint: ssh.FingerprintSHA256(key), Err: err}
			var ke *knownhosts.KeyError
			if errors.As(err, &ke) && len(ke.Want) > 0 {
				hkErr.Mismatch = true
			}
			return hkErr
		}
		return nil
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, s.cfg.Addr, &config)
	if err != nil {
		conn.Close()
		if hkErr != nil {
			return nil, hkErr
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("ssh %s: %w (%v)", s.cfg.Addr, ctxErr, err)
		}
		return nil, fmt.Errorf("ssh %s: %w", s.cfg.Addr, err)
	}
	s.log.Debug("ssh connected", "addr", s.cfg.Addr, "user", s.cfg.User)
	return ssh.NewClient(c, chans, reqs), nil
}

// session opens a session on the shared connection, reconnecting once if
// the connection was lost.
func (s *SSH) session(ctx context.Context) (*ssh.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil, fmt.Errorf("ssh %s: closed", s.cfg.Addr)
	}
	sess, err := newSession(ctx, s.client)
	if err == nil || ctx.Err() != nil {
		return sess, err
	}
	s.log.Debug("ssh session failed, reconnecting", "err", err)
	s.client.Close()
	client, derr := s.dial(ctx)
	if derr != nil {
		return nil, fmt.Errorf("ssh %s: new session: %v; reconnecting: %w", s.cfg.Addr, err, derr)
	}
	s.client = client
	return newSession(ctx, s.client)
}

// newSession opens a session on c, or returns ctx.Err() when ctx ends
// first: a server that never answers the channel request would otherwise
// block the caller forever. The connection is then closed (the next
// operation redials), which also ends the pending request.
func newSession(ctx context.Context, c *ssh.Client) (*ssh.Session, error) {
	type result struct {
		sess *ssh.Session
		err  error
	}
	done := make(chan result, 1)
	go func() {
		sess, err := c.NewSession()
		done <- result{sess, err}
	}()
	select {
	case r := <-done:
		return r.sess, r.err
	case <-ctx.Done():
		c.Close()
		if r := <-done; r.sess != nil {
			r.sess.Close()
		}
		return nil, ctx.Err()
	}
}

// runLine runs line under "sudo -n sh -c" in a new session. ctx ending
// sends SIGTERM to the command and closes the session.
func (s *SSH) runLine(ctx context.Context, line string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	sess, err := s.session(ctx)
	if err != nil {
		return -1, err
	}
	defer sess.Close()
	cmd := "sh -c " + quote(line)
	if !s.cfg.NoSudo {
		cmd = "sudo -n " + cmd
	}
	sess.Stdin = stdin
	sess.Stdout = stdout
	sess.Stderr = stderr
	if err := sess.Start(cmd); err != nil {
		return -1, err
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		sess.Signal(ssh.SIGTERM)
		sess.Close()
		return -1, ctx.Err()
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// Close ends the connection. Operations after Close fail.
func (s *SSH) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close()
	s.client = nil
	return err
}
