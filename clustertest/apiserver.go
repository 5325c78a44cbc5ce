package clustertest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The cluster's kube-apiserver: one real process standing for the three
// kube-apiservers behind the internal load balancer. It listens on a
// loopback port chosen when the cluster starts and kept for its life (the
// kubeconfig and RESTConfig point there), serves a certificate of the
// cluster's PKI, authenticates client certificates of that PKI (the admin
// is CN=system:admin, O=system:masters), and authorizes with Node,RBAC.
//
// It runs while at least one powered-on master has
// /etc/kubernetes/manifests/kube-apiserver-pod.yaml, and it is started
// afresh, with an empty watch cache, when one comes back after all were
// gone: the runbook's restore (5.3) relies on that after it has replaced
// etcd's data under the API server. Its --etcd-servers are the client URLs
// of the master hosts at the time it starts.
//
// Admission plugins that need controllers this simulation does not run are
// disabled:
//   - ServiceAccount: it rejects pods until the service account controller
//     (kube-controller-manager) has created the namespace's "default"
//     service account, which never happens here;
//   - TaintNodesByCondition: it puts node.kubernetes.io/not-ready on every
//     new Node, which only the node lifecycle controller would remove.
//
// Objects are stored under /kubernetes.io in etcd, as on OpenShift (plain
// Kubernetes uses /registry).

const (
	// apiServerStopGrace is how long a stopping kube-apiserver gets after
	// SIGTERM before SIGKILL. When its manifests are moved away during a
	// restore, etcd has lost quorum and the server waits out its in-flight
	// requests (up to a minute) before it exits; the next one cannot bind
	// the port until it has. Nothing is lost by not waiting: the state is
	// in etcd, as on a master the kubelet kills the container at the end
	// of its grace period.
	apiServerStopGrace  = 3 * time.Second
	apiServerStartTries = 3
	// etcdPrefix is the API server's etcd key prefix on OpenShift.
	etcdPrefix = "/kubernetes.io"
	// serviceNetwork is OpenShift's default service network.
	serviceNetwork = "172.30.0.0/16"
)

type apiServer struct {
	c          *Cluster
	dir        string
	port       int
	serving    TLSFiles
	etcdClient TLSFiles
	admin      TLSFiles
	kubelet    TLSFiles // client certificate for kubelets' APIs (exec, logs)
	saKey      string
	saPub      string
	logPath    string

	mu        sync.Mutex
	proc      *process
	stopping  *process // being stopped; it still serves until it exits
	starts    int
	nextStart time.Time
	backoff   time.Duration
}

// setupAPIServer picks the port, issues the certificates, writes the
// service account key and the admin kubeconfig, and builds the clients'
// REST config. It starts nothing.
func (c *Cluster) setupAPIServer() error {
	a := &apiServer{c: c, dir: filepath.Join(c.dir, "kube-apiserver")}
	a.logPath = filepath.Join(c.logDir(), "kube-apiserver.log")
	if err := os.MkdirAll(a.dir, 0o700); err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	var err error
	if a.port, err = a.c.allocPort(); err != nil {
		return err
	}
	a.serving, err = c.PKI.Issue("kube-apiserver-serving", CertOptions{
		CommonName: "kube-apiserver",
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local", "api." + c.domain, "api-int." + c.domain},
		IPs:    []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(172, 30, 0, 1)},
		Server: true,
	})
	if err != nil {
		return err
	}
	if a.etcdClient, err = c.PKI.Issue("kube-apiserver-etcd-client", CertOptions{CommonName: "system:etcd-client:kube-apiserver", Client: true}); err != nil {
		return err
	}
	if a.admin, err = c.PKI.Issue("system-admin", CertOptions{CommonName: "system:admin", Organization: []string{"system:masters"}, Client: true}); err != nil {
		return err
	}
	// What the API server presents to a kubelet (exec, logs, port-forward);
	// only a real kubelet (clustertest/realnode) asks for it.
	if a.kubelet, err = c.PKI.Issue("kube-apiserver-kubelet-client", CertOptions{CommonName: "system:kube-apiserver", Organization: []string{"system:masters"}, Client: true}); err != nil {
		return err
	}
	if err := a.writeServiceAccountKey(); err != nil {
		return err
	}
	c.apiserver = a
	return c.writeKubeconfig()
}

// writeServiceAccountKey writes the key that signs service account tokens
// (ECDSA P-256) and its public half.
func (a *apiServer) writeServiceAccountKey() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("clustertest: service account key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("clustertest: service account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("clustertest: service account key: %w", err)
	}
	a.saKey, a.saPub = filepath.Join(a.dir, "service-account.key"), filepath.Join(a.dir, "service-account.pub")
	if err := writePEM(a.saKey, "EC PRIVATE KEY", der, 0o600); err != nil {
		return err
	}
	return writePEM(a.saPub, "PUBLIC KEY", pub, 0o644)
}

// URL is the API server's address.
func (a *apiServer) URL() string { return "https://127.0.0.1:" + strconv.Itoa(a.port) }

// writeKubeconfig writes the admin kubeconfig (certificates embedded) and
// sets RESTConfig from it.
func (c *Cluster) writeKubeconfig() error {
	a := c.apiserver
	crt, err := os.ReadFile(a.admin.CertFile)
	if err != nil {
		return fmt.Errorf("clustertest: kubeconfig: %w", err)
	}
	key, err := os.ReadFile(a.admin.KeyFile)
	if err != nil {
		return fmt.Errorf("clustertest: kubeconfig: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.name] = &clientcmdapi.Cluster{Server: a.URL(), CertificateAuthorityData: c.PKI.CAPEM()}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	cfg.Contexts["admin"] = &clientcmdapi.Context{Cluster: c.name, AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "admin"
	c.KubeconfigPath = filepath.Join(c.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, c.KubeconfigPath); err != nil {
		return fmt.Errorf("clustertest: writing kubeconfig: %w", err)
	}
	rc, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		return fmt.Errorf("clustertest: kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 200, 400
	rc.UserAgent = "lifeboat-clustertest"
	// The seed's pod names contain dots (as on OpenShift) and the
	// ClusterVersion type knows fields the Default CRD does not: the
	// warnings say nothing a test needs.
	rc.WarningHandler = rest.NoWarnings{}
	c.RESTConfig = rc
	return nil
}

// args is the command line for etcdServers.
func (a *apiServer) args(etcdServers []string) []string {
	return []string{
		a.c.bins.KubeAPIServer,
		"--advertise-address=127.0.0.1",
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(a.port),
		"--cert-dir=" + filepath.Join(a.dir, "certs"),
		"--tls-cert-file=" + a.serving.CertFile,
		"--tls-private-key-file=" + a.serving.KeyFile,
		"--client-ca-file=" + a.c.PKI.CAFile(),
		"--etcd-servers=" + strings.Join(etcdServers, ","),
		"--etcd-cafile=" + a.c.PKI.CAFile(),
		"--etcd-certfile=" + a.etcdClient.CertFile,
		"--etcd-keyfile=" + a.etcdClient.KeyFile,
		"--etcd-prefix=" + etcdPrefix,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + a.saPub,
		"--service-account-signing-key-file=" + a.saKey,
		"--service-cluster-ip-range=" + serviceNetwork,
		"--authorization-mode=Node,RBAC",
		"--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
		"--allow-privileged=true",
		// A real kubelet (clustertest/realnode) is reached at its node's
		// InternalIP with this client certificate; simulated ones are
		// never dialled.
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--kubelet-client-certificate=" + a.kubelet.CertFile,
		"--kubelet-client-key=" + a.kubelet.KeyFile,
		"--profiling=false",
		"--enable-priority-and-fairness=false",
		"--endpoint-reconciler-type=none",
		"--v=0",
	}
}

// start starts the process (a.mu held).
func (a *apiServer) startLocked() error {
	servers := a.c.EtcdEndpoints()
	if len(servers) == 0 {
		return errors.New("clustertest: starting kube-apiserver: no etcd endpoints")
	}
	p, err := startProcess("kube-apiserver", a.args(servers), nil, a.logPath)
	if err != nil {
		return err
	}
	a.proc = p
	a.starts++
	a.c.log.Info("kube-apiserver started", "url", a.URL(), "pid", p.pid(), "start", a.starts)
	return nil
}

// wanted reports whether a powered-on master has kube-apiserver-pod.yaml.
func (c *Cluster) apiServerWanted() bool {
	for _, h := range c.masterHosts() {
		if !h.Powered() {
			continue
		}
		if _, err := os.Stat(h.path(manifestPath(componentKubeAPIServer))); err == nil {
			return true
		}
	}
	return false
}

// reconcile starts or stops the process as the hosts want, and restarts it
// (with back-off) when it died.
func (a *apiServer) reconcile() {
	want := a.c.apiServerWanted()
	now := time.Now()
	a.mu.Lock()
	if a.proc != nil && !a.proc.running() {
		a.c.log.Warn("kube-apiserver exited", "code", a.proc.exitCode(), "log", a.logPath)
		a.proc = nil
		a.backoff = min(max(2*a.backoff, 10*a.c.interval), 100*a.c.interval)
		a.nextStart = now.Add(a.backoff)
	}
	switch {
	case want && a.proc == nil && !now.Before(a.nextStart):
		if err := a.startLocked(); err != nil {
			a.c.log.Warn("kube-apiserver", "err", err)
		}
		a.mu.Unlock()
	case !want && a.proc != nil:
		p := a.proc
		a.proc, a.stopping = nil, p
		a.backoff, a.nextStart = 0, time.Time{}
		a.mu.Unlock()
		a.c.log.Info("kube-apiserver stopping: no master has kube-apiserver-pod.yaml")
		if err := p.stop(apiServerStopGrace); err != nil {
			a.c.log.Warn("stopping kube-apiserver", "err", err)
		}
		a.mu.Lock()
		a.stopping = nil
		a.mu.Unlock()
	default:
		a.mu.Unlock()
	}
}

// loop reconciles every tick until ctx ends (Close then kills the
// process).
func (a *apiServer) loop(ctx context.Context) {
	t := time.NewTicker(a.c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.reconcile()
		}
	}
}

func (a *apiServer) stop() {
	a.mu.Lock()
	p := a.proc
	a.proc = nil
	a.mu.Unlock()
	if p != nil {
		if err := p.stop(apiServerStopGrace); err != nil {
			a.c.log.Warn("stopping kube-apiserver", "err", err)
		}
	}
}

// kill kills the process at once (Close: nothing is left to serve).
func (a *apiServer) kill() {
	a.mu.Lock()
	p := a.proc
	a.proc = nil
	a.mu.Unlock()
	if p != nil {
		if err := p.kill(); err != nil {
			a.c.log.Warn("killing kube-apiserver", "err", err)
		}
	}
}

// startCount is how many times the process was started.
func (a *apiServer) startCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.starts
}

// running reports whether the process runs (or is still stopping).
func (a *apiServer) running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return (a.proc != nil && a.proc.running()) || (a.stopping != nil && a.stopping.running())
}

// startAndWait starts the API server for the first time and waits until
// /readyz answers ok. If another process took the port meanwhile it moves
// to a new port (before anyone has been handed the address).
func (a *apiServer) startAndWait(ctx context.Context) error {
	for try := 1; ; try++ {
		a.mu.Lock()
		err := a.startLocked()
		p := a.proc
		a.mu.Unlock()
		if err != nil {
			return err
		}
		err = a.waitReady(ctx, p)
		if err == nil {
			return nil
		}
		if try < apiServerStartTries && strings.Contains(tailFile(a.logPath, 20), "address already in use") {
			a.stop()
			if a.port, err = a.c.allocPort(); err != nil {
				return err
			}
			if err := a.c.writeKubeconfig(); err != nil {
				return err
			}
			continue
		}
		a.stop()
		return err
	}
}

// waitReady polls /readyz until it answers ok, p exits or ctx ends.
func (a *apiServer) waitReady(ctx context.Context, p *process) error {
	rc, err := rest.UnversionedRESTClientFor(withDefaults(a.c.RESTConfig))
	if err != nil {
		return fmt.Errorf("clustertest: kube-apiserver client: %w", err)
	}
	var last error
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		select {
		case <-p.exited():
			return false, fmt.Errorf("clustertest: kube-apiserver exited with code %d; log %s:\n%s", p.exitCode(), a.logPath, tailFile(a.logPath, 15))
		default:
		}
		// A starved kube-apiserver can take seconds to answer; this bounds
		// one request, not the wait.
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		body, err := rc.Get().AbsPath("/readyz").DoRaw(rctx)
		if err != nil {
			last = err
			return false, nil
		}
		if strings.TrimSpace(string(body)) != "ok" {
			return false, nil
		}
		// Whoever answered, it must be our process (it exits at once when
		// its port was taken).
		v, err := rc.Get().AbsPath("/version").DoRaw(rctx)
		if err != nil || !strings.Contains(string(v), "gitVersion") {
			last = fmt.Errorf("/version: %v", err)
			return false, nil
		}
		return p.running(), nil
	})
	if err != nil && last != nil && ctx.Err() != nil {
		return fmt.Errorf("clustertest: waiting for kube-apiserver /readyz: %w (last: %v)", err, last)
	}
	if err != nil {
		return fmt.Errorf("clustertest: waiting for kube-apiserver /readyz: %w", err)
	}
	return nil
}

// withDefaults returns a copy of cfg usable for an unversioned REST client.
func withDefaults(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	if c.NegotiatedSerializer == nil {
		c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	}
	return c
}
