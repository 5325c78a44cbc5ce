package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// localhostRecoveryKubeconfig is where every master keeps the kubeconfig
// of its kube-apiserver's localhost-recovery endpoint
// ("https://localhost:6443", system:admin), the one the documentation
// uses when the external API endpoint is down.
const localhostRecoveryKubeconfig = "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/node-kubeconfigs/localhost-recovery.kubeconfig"

// ErrHostCannotDial is wrapped by recoveryConfig when the host cannot open
// connections from itself (it does not implement host.Dialer, as
// debugpod.Host does not: it needs the API that is down).
var ErrHostCannotDial = errors.New("host cannot dial (it does not implement host.Dialer)")

// ErrAPIUnreachable is matched (errors.Is) by the *UnreachableError
// ReachableConfig returns when neither the given endpoint nor any master's
// localhost-recovery endpoint answers.
var ErrAPIUnreachable = errors.New("no kube-apiserver endpoint answers")

// UnreachableError lists every endpoint ReachableConfig tried and why it
// failed, in order.
type UnreachableError struct {
	Attempts []string
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%v: %s", ErrAPIUnreachable, strings.Join(e.Attempts, "; "))
}

// Is makes errors.Is(err, ErrAPIUnreachable) hold.
func (e *UnreachableError) Is(target error) bool { return target == ErrAPIUnreachable }

// recoveryConfig reads localhostRecoveryKubeconfig from the master h and
// returns a client configuration whose connections are opened from h
// (host.Dialer: on the machine itself for host.Local, an SSH
// "direct-tcpip" channel for host.SSH), so its "https://localhost:6443"
// reaches that master's own kube-apiserver and no proxy is used. Errors
// wrap ErrHostCannotDial, fs.ErrNotExist (no such file on h) or the
// kubeconfig's parse error.
func recoveryConfig(ctx context.Context, h host.Host) (*rest.Config, error) {
	d, ok := h.(host.Dialer)
	if !ok {
		return nil, fmt.Errorf("localhost-recovery kubeconfig of %s: %w", h.Name(), ErrHostCannotDial)
	}
	raw, err := h.ReadFile(ctx, localhostRecoveryKubeconfig)
	if err != nil {
		return nil, fmt.Errorf("localhost-recovery kubeconfig of %s: %w", h.Name(), err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("localhost-recovery kubeconfig of %s: %w", h.Name(), err)
	}
	cfg.Dial = d.DialContext
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	return cfg, nil
}

// ReachableOptions configures ReachableConfig. The zero value probes each
// endpoint for at most 10 s.
type ReachableOptions struct {
	// ProbeTimeout bounds each endpoint's probe; 10 s when zero.
	ProbeTimeout time.Duration
	// Logger receives each attempt; nil discards.
	Logger *slog.Logger
}

// ReachableConfig returns the first client configuration whose
// kube-apiserver answers a GET of /version: primary (may be nil), else
// each master's recoveryConfig in the order given. endpoint says which
// answered ("primary" or "localhost-recovery on <node>"). When none does
// it returns an *UnreachableError (errors.Is ErrAPIUnreachable) naming
// every attempt. Probes honour ctx. Nothing to probe (primary nil and no
// masters), a nil master and a negative ProbeTimeout are refused with a
// *lifeboat.OptionsError before any probe.
func ReachableConfig(ctx context.Context, primary *rest.Config, masters []host.Host, opts ReachableOptions) (cfg *rest.Config, endpoint string, err error) {
	if primary == nil && len(masters) == 0 {
		return nil, "", opterr.New("lifecycle.ReachableConfig masters", "is empty and primary is nil: nothing to probe")
	}
	for i, h := range masters {
		if h == nil {
			return nil, "", opterr.New("lifecycle.ReachableConfig masters", "[%d] is nil", i)
		}
	}
	if err := opterr.Negative("lifecycle.ReachableOptions.ProbeTimeout", opts.ProbeTimeout); err != nil {
		return nil, "", err
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var attempts []string
	try := func(name string, c *rest.Config) bool {
		perr := probe(ctx, c, opts.ProbeTimeout)
		log.Info("probing kube-apiserver", "endpoint", name, "err", perr)
		if perr != nil {
			attempts = append(attempts, fmt.Sprintf("%s: %v", name, perr))
			return false
		}
		return true
	}
	if primary != nil && try("primary "+primary.Host, primary) {
		return primary, "primary", nil
	}
	for _, h := range masters {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		name := "localhost-recovery on " + h.Name()
		c, err := recoveryConfig(ctx, h)
		if err != nil {
			attempts = append(attempts, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if try(name, c) {
			return c, name, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	return nil, "", &UnreachableError{Attempts: attempts}
}

func probe(ctx context.Context, cfg *rest.Config, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := rest.CopyConfig(cfg)
	c.Timeout = timeout
	kube, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	return kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error()
}
