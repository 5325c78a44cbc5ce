package etcdconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/internal/safego"
)

// defaultDialTimeout bounds connecting and the reachability check when
// Config.DialTimeout is zero.
const defaultDialTimeout = 5 * time.Second

// Config describes how to reach an etcd cluster.
type Config struct {
	// Endpoints are the members' client URLs ("https://10.0.0.3:2379") or
	// host:port pairs. Required.
	Endpoints []string
	// CAFile is the PEM bundle that verifies the members' serving
	// certificates; empty means the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key; both or
	// neither. OpenShift's etcd requires a client certificate.
	CertFile, KeyFile string
	// DialTimeout bounds each connection attempt and the reachability check;
	// zero means 5 s. Negative is invalid.
	DialTimeout time.Duration
	// SkipCheck makes New return without contacting the cluster. By default
	// New asks every endpoint for its status and fails, explaining why (TLS
	// trust, rejected client certificate, nothing listening, only learners
	// answering), unless at least one voting member answers. The check does
	// not need quorum. It also drops the endpoints of learners (members the
	// etcd operator is still adding, which refuse linearizable requests and
	// member management) from the client, as etcd's own client does when it
	// syncs its endpoints; with SkipCheck the endpoints are used as given.
	SkipCheck bool
	// Logger receives a debug record of the check; nil discards. Some of
	// its records come from goroutines New starts: a panic of its handler
	// there fails New with a *lifeboat.PanicError (lifeboat.ErrPanicked).
	Logger *slog.Logger
}

// settings names the settings in error messages: environment variables for
// FromEnv, Config fields for New.
type settings struct{ endpoints, ca, cert, key, dialTimeout string }

var (
	configSettings = settings{"Config.Endpoints", "Config.CAFile", "Config.CertFile", "Config.KeyFile", "Config.DialTimeout"}
	envSettings    = settings{"ETCDCTL_ENDPOINTS", "ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY", "ETCDCTL_DIAL_TIMEOUT"}
)

// optionName is a setting as *lifeboat.OptionsError names it: a Config
// field qualified by its package ("etcdconn.Config.Endpoints"), or the
// environment variable.
func optionName(setting string) string {
	if strings.HasPrefix(setting, "Config.") {
		return "etcdconn." + setting
	}
	return setting
}

// New returns a client for the cluster cfg describes. Unless cfg.SkipCheck
// is set it first makes sure at least one endpoint answers (see Config),
// within ctx and cfg.DialTimeout. The client is not bound to ctx; the caller
// closes it.
//
// Errors are a *lifeboat.OptionsError (lifeboat.ErrInvalidOptions) for
// settings wrong in themselves, before any file is read: no endpoint
// (also matching ErrNoEndpoints) or a negative DialTimeout; a *ConfigError
// (ErrCA or ErrKeyPair) for files that cannot be used; and *ConnectError
// (wrapping ErrUnreachable, and ErrServerUntrusted or ErrClientRejected when
// TLS explains it) when no endpoint answers.
func New(ctx context.Context, cfg Config) (*clientv3.Client, error) {
	return newClient(ctx, cfg, configSettings)
}

// FromEnv returns a client configured the way etcdctl is inside an etcd pod:
// from ETCDCTL_ENDPOINTS (comma separated, required), ETCDCTL_CACERT,
// ETCDCTL_CERT, ETCDCTL_KEY and ETCDCTL_DIAL_TIMEOUT (a Go duration such as
// "10s"). It checks reachability as New does; errors name the variable at
// fault. Unlike etcdctl it has no default endpoint: an unset
// ETCDCTL_ENDPOINTS is refused (lifeboat.ErrInvalidOptions, with
// ErrNoEndpoints as its cause). Other ETCDCTL_* variables (ETCDCTL_API,
// user/password, insecure modes) are ignored.
func FromEnv(ctx context.Context) (*clientv3.Client, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	return newClient(ctx, cfg, envSettings)
}

// ConfigFromEnv reads the ETCDCTL_* variables FromEnv uses into a Config,
// without checking the files.
func ConfigFromEnv() (Config, error) {
	cfg := Config{
		Endpoints: splitEndpoints(os.Getenv("ETCDCTL_ENDPOINTS")),
		CAFile:    os.Getenv("ETCDCTL_CACERT"),
		CertFile:  os.Getenv("ETCDCTL_CERT"),
		KeyFile:   os.Getenv("ETCDCTL_KEY"),
	}
	if v := strings.TrimSpace(os.Getenv("ETCDCTL_DIAL_TIMEOUT")); v != "" {
		d, err := time.ParseDuration(v)
		if err == nil && d <= 0 {
			err = errors.New("must be positive")
		}
		if err != nil {
			return Config{}, opterr.New("ETCDCTL_DIAL_TIMEOUT", "%q: %w", v, err)
		}
		cfg.DialTimeout = d
	}
	return cfg, nil
}

// checkEndpoint refuses an endpoint the client would only fail to reach
// after the dial timeout, as "unreachable": a URL whose scheme is not
// http, https, unix or unixs, that has no host, or a path, query or
// fragment; a host:port pair without a port; spaces or control
// characters. An endpoint with user information is refused without being
// quoted (etcd takes no credentials from it, and errors would show them).
func checkEndpoint(e string) error {
	if strings.ContainsFunc(e, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return errors.New("has spaces or control characters")
	}
	if !strings.Contains(e, "://") {
		if host, port, err := net.SplitHostPort(e); err != nil || host == "" || port == "" {
			return fmt.Errorf("%q is neither a client URL (https://host:port) nor host:port", e)
		}
		return nil
	}
	u, err := url.Parse(e)
	switch {
	case err != nil && strings.Contains(e, "@"):
		return errors.New("does not parse")
	case err != nil:
		return fmt.Errorf("%q does not parse", e)
	case u.User != nil:
		return errors.New("carries user information (user:password@); etcd takes none from the URL")
	}
	switch u.Scheme {
	case "unix", "unixs":
		return nil
	case "http", "https":
	default:
		return fmt.Errorf("%q: scheme %q is not http, https, unix or unixs", e, u.Scheme)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not a client URL (scheme://host:port)", e)
	}
	return nil
}

func splitEndpoints(s string) []string {
	var eps []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			eps = append(eps, e)
		}
	}
	return eps
}

func newClient(ctx context.Context, cfg Config, names settings) (*clientv3.Client, error) {
	var eps []string
	for _, e := range cfg.Endpoints {
		eps = append(eps, splitEndpoints(e)...)
	}
	if len(eps) == 0 {
		return nil, opterr.New(optionName(names.endpoints), "is required: %w", ErrNoEndpoints)
	}
	for i, e := range eps {
		if err := checkEndpoint(e); err != nil {
			return nil, opterr.New(optionName(names.endpoints), "[%d]: %w", i, err)
		}
	}
	if err := opterr.Negative(optionName(names.dialTimeout), cfg.DialTimeout); err != nil {
		return nil, err
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tc, err := tlsConfig(cfg, eps, names)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("etcdconn: connecting to %s: %w", strings.Join(eps, ","), err)
	}
	cl, err := clientv3.New(clientv3.Config{
		Endpoints:   eps,
		TLS:         tc,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
		DialOptions: dialOptions(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcdconn: creating client for %s: %w", strings.Join(eps, ","), err)
	}
	if cfg.SkipCheck {
		return cl, nil
	}
	learners, err := check(ctx, cl, eps, tc, cfg.DialTimeout, logger)
	if err != nil {
		cl.Close()
		var ce *ConnectError
		if errors.As(err, &ce) {
			ce.Hint = hint(ce.Kind, cfg, names)
		}
		return nil, err
	}
	dropLearners(ctx, cl, eps, learners, cfg.DialTimeout, logger)
	return cl, nil
}

// hint tells which setting a TLS failure points at.
func hint(kind error, cfg Config, names settings) string {
	switch {
	case errors.Is(kind, ErrServerUntrusted) && cfg.CAFile == "":
		return fmt.Sprintf("%s is not set, so the system roots were used", names.ca)
	case errors.Is(kind, ErrServerUntrusted):
		return fmt.Sprintf("check %s=%s: it must hold the CA that signed the etcd serving certificates", names.ca, cfg.CAFile)
	case errors.Is(kind, ErrClientRejected) && cfg.CertFile == "":
		return fmt.Sprintf("%s and %s are not set; etcd requires a client certificate", names.cert, names.key)
	case errors.Is(kind, ErrClientRejected):
		return fmt.Sprintf("check %s=%s: etcd does not accept it", names.cert, cfg.CertFile)
	case errors.Is(kind, ErrOnlyLearners):
		return fmt.Sprintf("add a voting member's client URL to %s", names.endpoints)
	}
	return ""
}

// tlsConfig loads the CA and key pair. It returns nil (plain TCP) only when
// no file is given and no endpoint is https.
func tlsConfig(cfg Config, eps []string, names settings) (*tls.Config, error) {
	secure := cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != ""
	for _, e := range eps {
		if strings.HasPrefix(e, "https://") || strings.HasPrefix(e, "unixs://") {
			secure = true
		}
	}
	if !secure {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pool, err := loadCA(cfg.CAFile)
		if err != nil {
			return nil, &ConfigError{Setting: names.ca, Path: cfg.CAFile, Kind: ErrCA, Err: err}
		}
		tc.RootCAs = pool
	}
	switch {
	case cfg.CertFile == "" && cfg.KeyFile == "":
	case cfg.CertFile == "":
		return nil, &ConfigError{Setting: names.cert, Kind: ErrKeyPair, Err: fmt.Errorf("not set but %s is", names.key)}
	case cfg.KeyFile == "":
		return nil, &ConfigError{Setting: names.key, Kind: ErrKeyPair, Err: fmt.Errorf("not set but %s is", names.cert)}
	default:
		cert, err := loadKeyPair(cfg.CertFile, cfg.KeyFile, names)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// loadCA reads a PEM bundle; every CERTIFICATE block must parse and there
// must be at least one.
func loadCA(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n+1, err)
		}
		pool.AddCert(c)
		n++
	}
	if n == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return pool, nil
}

func loadKeyPair(certFile, keyFile string, names settings) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, &ConfigError{Setting: names.cert, Path: certFile, Kind: ErrKeyPair, Err: err}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, &ConfigError{Setting: names.key, Path: keyFile, Kind: ErrKeyPair, Err: err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &ConfigError{
			Setting: names.cert + " and " + names.key, Path: certFile + ", " + keyFile, Kind: ErrKeyPair, Err: err,
		}
	}
	if now := time.Now(); now.After(cert.Leaf.NotAfter) {
		return tls.Certificate{}, &ConfigError{
			Setting: names.cert, Path: certFile, Kind: ErrKeyPair,
			Err: fmt.Errorf("certificate expired at %s", cert.Leaf.NotAfter.UTC().Format(time.RFC3339)),
		}
	}
	return cert, nil
}

// probeDelay is how long check waits for a status answer before probing
// the endpoints' TLS itself, to explain (and end early) a failure.
const probeDelay = 250 * time.Millisecond

// check asks each endpoint for its status; one answer from a voting member
// is enough. It returns the endpoints that answered as learners. If none
// answers quickly it also probes each endpoint's TLS: when every endpoint
// fails the handshake for a TLS reason (untrusted server, rejected client)
// it gives up at once with that reason instead of waiting for the timeout.
// When only learners answer it fails with ErrOnlyLearners.
func check(ctx context.Context, cl *clientv3.Client, eps []string, tc *tls.Config, timeout time.Duration, logger *slog.Logger) (learners []string, _ error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		ep        string
		err, kind error
		learner   bool
		panicked  bool // err is a panic of the logger's handler (Config.Logger)
	}
	statuses := make(chan result, len(eps))
	for _, ep := range eps {
		go func() {
			var r result
			perr := safego.Call("etcdconn: checking "+ep, func() error {
				resp, err := cl.Status(ctx, ep)
				r = result{ep: ep, err: err, learner: err == nil && resp.IsLearner}
				if err == nil {
					logger.Debug("etcd endpoint answered", "endpoint", ep, "version", resp.Version, "leader", resp.Leader != 0, "learner", resp.IsLearner)
				}
				return nil
			})
			if perr != nil {
				r = result{ep: ep, err: perr, panicked: true}
			}
			statuses <- r
		}()
	}
	probes := make(chan result, len(eps))
	probeTimer := time.NewTimer(probeDelay)
	defer probeTimer.Stop()

	var lastStatus error
	probeErr := map[string]result{}
	statusLeft, probesLeft := len(eps), 0
	for statusLeft > 0 {
		select {
		case r := <-statuses:
			statusLeft--
			if r.panicked {
				return nil, r.err
			}
			if r.err == nil && r.learner {
				learners = append(learners, r.ep)
				continue
			}
			if r.err == nil {
				return learners, nil
			}
			lastStatus = fmt.Errorf("%s: %w", r.ep, r.err)
		case <-probeTimer.C:
			if tc == nil {
				continue
			}
			probesLeft = len(eps)
			for _, ep := range eps {
				go func() {
					kind, err := probeTLS(ctx, ep, tc)
					probes <- result{ep: ep, err: err, kind: kind}
				}()
			}
		case r := <-probes:
			probesLeft--
			probeErr[r.ep] = r
			if probesLeft > 0 {
				continue
			}
			allTLS := true
			for _, pr := range probeErr {
				allTLS = allTLS && pr.kind != nil
			}
			if allTLS {
				first := probeErr[eps[0]]
				err := &ConnectError{Endpoints: eps, Kind: first.kind, Err: fmt.Errorf("%s: %w", first.ep, first.err)}
				logger.Debug("etcd endpoints refused TLS", "err", err)
				return nil, err
			}
		}
	}
	if len(learners) > 0 && lastStatus == nil {
		err := &ConnectError{Endpoints: eps, Kind: ErrOnlyLearners, Err: fmt.Errorf("%s answered as learners", strings.Join(learners, ","))}
		logger.Debug("only etcd learners answered", "err", err)
		return learners, err
	}
	cerr := &ConnectError{Endpoints: eps, Err: lastStatus}
	if len(learners) > 0 {
		cerr.Kind = ErrOnlyLearners
	}
	// Prefer what a probe saw (a TLS reason, "connection refused") to the
	// status calls' bare deadline.
	for _, ep := range eps {
		if pr, ok := probeErr[ep]; ok && pr.err != nil {
			cerr.Kind, cerr.Err = pr.kind, fmt.Errorf("%s: %w", ep, pr.err)
			if pr.kind != nil {
				break
			}
		}
	}
	logger.Debug("no etcd endpoint answered", "err", cerr)
	return learners, cerr
}

// dropLearners removes the endpoints of learners from the client: those
// that answered check as learners, and those the member list (serializable,
// so it needs no quorum) shows as learners. It never removes the last
// endpoint and never adds one. Failing to list members keeps what check
// found.
func dropLearners(ctx context.Context, cl *clientv3.Client, eps, learners []string, timeout time.Duration, logger *slog.Logger) {
	isLearner := map[string]bool{}
	for _, ep := range learners {
		isLearner[hostPort(ep)] = true
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	resp, err := cl.MemberList(lctx, clientv3.WithSerializable())
	cancel()
	if err == nil {
		for _, m := range resp.Members {
			if m.IsLearner {
				for _, u := range m.ClientURLs {
					isLearner[hostPort(u)] = true
				}
			}
		}
	} else {
		logger.Debug("listing etcd members to find learners", "err", err)
	}
	var keep, dropped []string
	for _, ep := range eps {
		if isLearner[hostPort(ep)] {
			dropped = append(dropped, ep)
		} else {
			keep = append(keep, ep)
		}
	}
	if len(dropped) == 0 || len(keep) == 0 {
		return
	}
	cl.SetEndpoints(keep...)
	logger.Debug("dropped etcd learner endpoints", "learners", dropped, "endpoints", keep)
}

// hostPort is the host:port of an endpoint given as a URL or as host:port.
func hostPort(ep string) string {
	if u, err := url.Parse(ep); err == nil && u.Host != "" {
		return u.Host
	}
	return ep
}

// probeTLS handshakes with ep and reads until the server speaks, to tell a
// server certificate the CA does not trust from a client certificate the
// server refuses (with TLS 1.3 the server reports the latter after the
// handshake). It returns a nil kind when TLS is not the problem.
func probeTLS(ctx context.Context, ep string, tc *tls.Config) (kind error, err error) {
	host := ep
	if u, perr := url.Parse(ep); perr == nil && u.Host != "" {
		if u.Scheme != "https" {
			return nil, nil
		}
		host = u.Host
	}
	if ctx.Err() != nil {
		return nil, nil
	}
	hostname, _, serr := net.SplitHostPort(host)
	if serr != nil {
		return nil, nil
	}
	c := tc.Clone()
	if c.ServerName == "" {
		c.ServerName = hostname
	}
	c.NextProtos = []string{"h2"}
	d := tls.Dialer{Config: c}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		var unknown x509.UnknownAuthorityError
		var hostErr x509.HostnameError
		var invalid x509.CertificateInvalidError
		var verr *tls.CertificateVerificationError
		switch {
		case errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &invalid), errors.As(err, &verr):
			return ErrServerUntrusted, err
		case isTLSAlert(err):
			return ErrClientRejected, err
		}
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	_, err = conn.Read(make([]byte, 1))
	if err != nil && isTLSAlert(err) {
		return ErrClientRejected, err
	}
	return nil, nil
}

// isTLSAlert reports whether err is an alert the server sent during or
// right after the handshake.
func isTLSAlert(err error) bool {
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return true
	}
	// Alerts received from the peer surface as "remote error: tls: ...".
	return strings.Contains(err.Error(), "remote error: tls:")
}
