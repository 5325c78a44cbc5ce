package clustertest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// Options configure a simulated cluster. The zero value is a 4.5.2 cluster
// with three masters and two workers in a temporary directory.
type Options struct {
	// Masters is the number of masters (etcd members); 0 means 3.
	Masters int
	// Workers is the number of workers; 0 means 2, negative means none.
	Workers int
	// ClusterVersion is the OpenShift version the cluster runs
	// (ClusterVersion status.desired.version and history, ClusterOperator
	// versions); "" means Release.
	ClusterVersion string
	// Release is the OpenShift release the simulation plays ("4.5.2",
	// "4.14.8", "4.20.3"): its version in ClusterVersion (status.history
	// Completed) and its hosts' layout (see release.go). "" means
	// ClusterVersion, and both "" mean "4.5.2" (the 4.5 runbook's cluster).
	// When both are set they must be equal; a release before 4.5 is refused.
	Release string
	// ClusterName is the cluster's name; the infrastructure name (the prefix
	// of Machine names) is ClusterName plus a random suffix. "" means
	// "lifeboat".
	ClusterName string
	// Proxy is the spec of the cluster-wide Proxy "cluster"; the zero value
	// is no proxy.
	Proxy configv1.ProxySpec
	// Dir holds everything: the PKI, the hosts' trees (Dir/hosts/<node>),
	// the kube-apiserver's files, the logs (Dir/logs) and the kubeconfig.
	// "" means t.TempDir() for Start, and a new temporary directory removed
	// by Close for New.
	Dir string
	// Logger receives the simulation's events (processes started and
	// stopped, hosts powered, controllers' actions). They are also written
	// to Dir/logs/clustertest.log. nil: only the file.
	Logger *slog.Logger
	// Binaries locate etcd and kube-apiserver; nil means FindBinaries.
	Binaries *Binaries
	// ControlPlaneMachineSet seeds the ControlPlaneMachineSet "cluster"
	// ("Active" or "Inactive") from the masters' Machines; its controller
	// re-creates a deleted master Machine while Active (see cpms.go). ""
	// seeds none, as on 4.5 to 4.11 and on clusters without the Machine
	// API. Only 3 or 5 masters are valid with a set, as on a real cluster.
	ControlPlaneMachineSet string
	// Interval is the tick of the simulated kubelets and controllers; 0
	// means 100ms. Durations of the simulation scale with it (see Host).
	Interval time.Duration
}

// Cluster is a simulated OpenShift 4 control plane: real etcd members run
// by simulated kubelets on directory-tree hosts, one real kube-apiserver,
// the OpenShift CRDs, a seeded installation, and small controllers playing
// the operators (see the package documentation).
type Cluster struct {
	// Clients of the API server, authenticated as system:admin
	// (system:masters).
	Kube     kubernetes.Interface
	Config   configclient.Interface
	Operator operatorclient.Interface
	Machine  machineclient.Interface
	// RESTConfig is the admin REST config the clients use.
	RESTConfig *rest.Config
	// KubeconfigPath is an admin kubeconfig ("oc --kubeconfig").
	KubeconfigPath string
	// PKI is the CA behind every certificate of the cluster.
	PKI *PKI

	opts      Options
	name      string // infrastructure name
	domain    string // base domain of the cluster's DNS names
	dir       string
	removeDir bool
	log       *slog.Logger
	logFile   *os.File
	bins      Binaries
	interval  time.Duration
	etcdToken string
	etcdTLS   TLSFiles
	apiserver *apiServer

	// ctx lives until Close; the kubelets and controllers run under it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	hosts    map[string]*Host
	order    []string          // node names in creation order
	machines map[string]string // node name -> Machine name
	clients  []*clientv3.Client
	closed   bool

	// simSt is the simulated controllers' shared state (controllers.go).
	simOnce sync.Once
	simSt   *simState
	// ports are the loopback ports this cluster reserved (ports.go).
	ports portReservations
}

// Start starts a cluster for a test and registers Close with t.Cleanup. It
// fails the test if the cluster does not come up. When the test fails, the
// tails of the cluster's logs are written to the test log.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	// The deadline catches a hang: a cluster starts in 10-30s on a quiet
	// machine, and minutes when other tests keep every core busy.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	c, err := New(ctx, opts)
	if err != nil {
		t.Fatalf("starting simulated cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			c.LogTails(t, 30)
		}
		if err := c.Close(); err != nil {
			t.Errorf("closing simulated cluster: %v", err)
		}
	})
	return c
}

// New starts a cluster and returns once the API server is ready, the CRDs
// are established, the installation is seeded, every etcd member is
// healthy and its pod Running. ctx bounds the start only; the cluster runs
// until Close, which the caller must call.
//
// Options it cannot use (a negative Masters or Interval, an unknown
// ControlPlaneMachineSet or one with other than 3 or 5 masters, Release
// and ClusterVersion that differ or do not parse) are a
// *lifeboat.OptionsError, before anything is started or written.
func New(ctx context.Context, opts Options) (_ *Cluster, err error) {
	began := time.Now()
	if err := cmp.Or(
		opterr.Negative("clustertest.Options.Masters", opts.Masters),
		opterr.Negative("clustertest.Options.Interval", opts.Interval),
	); err != nil {
		return nil, err
	}
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	switch opts.ControlPlaneMachineSet {
	case "":
	case "Active", "Inactive":
		if opts.Masters != 3 && opts.Masters != 5 {
			return nil, opterr.New("", "clustertest.Options.ControlPlaneMachineSet needs 3 or 5 clustertest.Options.Masters, not %d", opts.Masters)
		}
	default:
		return nil, opterr.New("clustertest.Options.ControlPlaneMachineSet", "%q: want \"Active\", \"Inactive\" or \"\"", opts.ControlPlaneMachineSet)
	}
	switch {
	case opts.Workers == 0:
		opts.Workers = 2
	case opts.Workers < 0:
		opts.Workers = 0
	}
	if _, err := resolveRelease(&opts); err != nil {
		return nil, err
	}
	if opts.ClusterName == "" {
		opts.ClusterName = "lifeboat"
	}
	if opts.Interval <= 0 {
		opts.Interval = 100 * time.Millisecond
	}
	var bins Binaries
	if opts.Binaries != nil {
		bins = *opts.Binaries
	} else {
		bins, _ = FindBinaries()
	}
	for _, b := range []struct{ name, path string }{{"etcd", bins.Etcd}, {"kube-apiserver", bins.KubeAPIServer}} {
		if err := checkExecutable(b.path); err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrBinariesMissing, b.name, b.path, err)
		}
	}
	freeSlot, err := acquireStartSlot(ctx, startSlotDir(), startSlotCount())
	if err != nil {
		return nil, err
	}
	defer freeSlot()
	crds, err := loadOpenShiftCRDs()
	if err != nil {
		return nil, err
	}

	c := &Cluster{
		opts:     opts,
		bins:     bins,
		interval: opts.Interval,
		hosts:    map[string]*Host{},
		machines: map[string]string{},
	}
	if opts.Dir == "" {
		d, err := os.MkdirTemp("", "lifeboat-cluster-")
		if err != nil {
			return nil, fmt.Errorf("clustertest: creating cluster dir: %w", err)
		}
		opts.Dir, c.removeDir = d, true
		c.opts.Dir = d
	}
	c.dir = opts.Dir
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := c.openLog(); err != nil {
		return nil, err
	}
	c.name = opts.ClusterName + "-" + randomName(5)
	c.domain = opts.ClusterName + ".lifeboat.test"
	c.etcdToken = "openshift-etcd-" + randomName(8)
	if c.PKI, err = NewPKI(filepath.Join(c.dir, "pki")); err != nil {
		return nil, err
	}
	if c.etcdTLS, err = c.PKI.Issue("etcd-client", CertOptions{CommonName: "etcd-client", Client: true}); err != nil {
		return nil, err
	}
	if err := c.setupAPIServer(); err != nil {
		return nil, err
	}
	if err := c.newClients(); err != nil {
		return nil, err
	}
	plan, err := c.planNodes()
	if err != nil {
		return nil, err
	}
	certs, err := c.buildHosts(plan)
	if err != nil {
		return nil, err
	}
	for _, h := range c.allHosts() {
		h.kubelet.start(c.ctx)
	}
	if err := c.apiserver.startAndWait(ctx); err != nil {
		return nil, err
	}
	c.wg.Go(func() { c.apiserver.loop(c.ctx) })
	c.log.Info("kube-apiserver ready", "elapsed", time.Since(began))
	if err := c.installCRDs(ctx, crds); err != nil {
		return nil, err
	}
	c.log.Info("CRDs established", "elapsed", time.Since(began))
	if err := c.seed(ctx, plan, certs); err != nil {
		return nil, err
	}
	for _, h := range c.allHosts() {
		h.kubelet.resync()
	}
	c.log.Info("cluster seeded", "elapsed", time.Since(began))
	if err := c.waitEtcdPods(ctx); err != nil {
		return nil, err
	}
	if err := c.startControllers(c.ctx); err != nil {
		return nil, fmt.Errorf("clustertest: starting controllers: %w", err)
	}
	c.log.Info("cluster started", "name", c.name, "masters", c.Masters(), "workers", c.Workers(), "api", c.apiserver.URL(), "elapsed", time.Since(began))
	return c, nil
}

// openLog sets up the cluster's logger: Dir/logs/clustertest.log plus
// Options.Logger.
func (c *Cluster) openLog() error {
	if err := os.MkdirAll(c.logDir(), 0o700); err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(c.logDir(), "clustertest.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("clustertest: %w", err)
	}
	c.logFile = f
	var h slog.Handler = slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})
	if c.opts.Logger != nil {
		h = slog.NewMultiHandler(h, c.opts.Logger.Handler())
	}
	c.log = slog.New(h).With("cluster", c.opts.ClusterName)
	if c.opts.Logger == nil {
		// The controllers log through Options.Logger when it is set.
		c.opts.Logger = c.log
	}
	return nil
}

func (c *Cluster) logDir() string { return filepath.Join(c.dir, "logs") }

// newClients builds the typed clients from RESTConfig.
func (c *Cluster) newClients() error {
	var err error
	if c.Kube, err = kubernetes.NewForConfig(c.RESTConfig); err != nil {
		return fmt.Errorf("clustertest: kube client: %w", err)
	}
	if c.Config, err = configclient.NewForConfig(c.RESTConfig); err != nil {
		return fmt.Errorf("clustertest: config client: %w", err)
	}
	if c.Operator, err = operatorclient.NewForConfig(c.RESTConfig); err != nil {
		return fmt.Errorf("clustertest: operator client: %w", err)
	}
	if c.Machine, err = machineclient.NewForConfig(c.RESTConfig); err != nil {
		return fmt.Errorf("clustertest: machine client: %w", err)
	}
	return nil
}

// Close stops the controllers, the kubelets (and so every etcd member) and
// the kube-apiserver, closes the etcd clients handed out, and removes Dir
// if New created it. No process outlives Close. Close is idempotent.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	clients := c.clients
	c.clients = nil
	c.mu.Unlock()

	if c.cancel != nil {
		c.cancel()
	}
	c.waitControllers()
	for _, cl := range clients {
		cl.Close()
	}
	c.wg.Wait()
	// Nothing is left to serve: kill rather than wait for graceful exits.
	if c.apiserver != nil {
		c.apiserver.kill()
	}
	var wg sync.WaitGroup
	for _, h := range c.allHosts() {
		wg.Go(h.kubelet.kill)
	}
	wg.Wait()
	c.ports.release()
	var errs []error
	if c.logFile != nil {
		c.log.Info("cluster closed")
		c.logFile.Close()
	}
	if c.removeDir {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, fmt.Errorf("clustertest: removing %s: %w", c.dir, err))
		}
	}
	return errors.Join(errs...)
}

// Name is the cluster's infrastructure name, the prefix of its Machine
// names (e.g. "lifeboat-x7k2p").
func (c *Cluster) Name() string { return c.name }

// Dir is the directory holding the cluster's files.
func (c *Cluster) Dir() string { return c.dir }

// APIServerURL is the address of the kube-apiserver.
func (c *Cluster) APIServerURL() string { return c.apiserver.URL() }

// APIServerRunning reports whether the kube-apiserver process runs (it
// stops when no powered-on master has kube-apiserver-pod.yaml).
func (c *Cluster) APIServerRunning() bool { return c.apiserver.running() }

// Masters returns the node names of the master hosts, in creation order.
func (c *Cluster) Masters() []string { return c.nodesWithRole(roleMaster) }

// Workers returns the node names of the worker hosts, in creation order.
func (c *Cluster) Workers() []string { return c.nodesWithRole(roleWorker) }

func (c *Cluster) nodesWithRole(role string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, n := range c.order {
		if c.hosts[n].role == role {
			out = append(out, n)
		}
	}
	return out
}

// Host returns the host of node, nil if there is none.
func (c *Cluster) Host(node string) *Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[node]
}

// allHosts returns every host in creation order.
func (c *Cluster) allHosts() []*Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Host, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, c.hosts[n])
	}
	return out
}

// masterHosts returns the master hosts in creation order.
func (c *Cluster) masterHosts() []*Host {
	var out []*Host
	for _, h := range c.allHosts() {
		if h.role == roleMaster {
			out = append(out, h)
		}
	}
	return out
}

// MachineName returns the name of node's Machine: the Machine in
// openshift-machine-api whose status.nodeRef names node, or, while the API
// does not answer, the last one known. "" if there is none.
func (c *Cluster) MachineName(node string) string {
	if c.Machine != nil && c.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		list, err := c.Machine.MachineV1beta1().Machines(nsMachineAPI).List(ctx, metav1.ListOptions{})
		cancel()
		if err == nil {
			name := ""
			for _, m := range list.Items {
				if m.Status.NodeRef != nil && m.Status.NodeRef.Name == node && m.DeletionTimestamp == nil {
					name = m.Name
				}
			}
			c.setMachineName(node, name)
			return name
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.machines[node]
}

// setMachineName records that node runs on Machine machine (the machine
// API's controller calls it for the machines it provisions).
func (c *Cluster) setMachineName(node, machine string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if machine == "" {
		delete(c.machines, node)
		return
	}
	c.machines[node] = machine
}

// nodeIP is node's InternalIP, "" for an unknown node.
func (c *Cluster) nodeIP(node string) string {
	if h := c.Host(node); h != nil {
		return h.ip
	}
	return ipFromNodeName(node)
}

// EtcdEndpoints returns the client URLs of the etcd members of the master
// hosts, in creation order (members that are down included).
func (c *Cluster) EtcdEndpoints() []string {
	var out []string
	for _, h := range c.masterHosts() {
		out = append(out, h.clientURL)
	}
	return out
}

// EtcdTLS returns the files of an etcd client certificate the members
// accept (the one in the etcd-client secret).
func (c *Cluster) EtcdTLS() TLSFiles { return c.etcdTLS }

// EtcdClient returns a client of the etcd cluster (all EtcdEndpoints). It
// is closed by Close; the caller may close it earlier.
func (c *Cluster) EtcdClient(ctx context.Context) (*clientv3.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cl, err := newEtcdClient(c.EtcdEndpoints(), c.etcdTLS)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		cl.Close()
		return nil, errors.New("clustertest: cluster closed")
	}
	c.clients = append(c.clients, cl)
	return cl, nil
}

// LogTails writes the last n lines of the cluster's logs (clustertest, the
// kube-apiserver, each etcd member) to t.
func (c *Cluster) LogTails(t testing.TB, n int) {
	t.Helper()
	entries, err := os.ReadDir(c.logDir())
	if err != nil {
		t.Logf("clustertest logs: %v", err)
		return
	}
	for _, e := range entries {
		p := filepath.Join(c.logDir(), e.Name())
		t.Logf("---- %s (last %d lines) ----\n%s", p, n, tailFile(p, n))
	}
}

// waitEtcdPods waits until every master's etcd member answers and its pod
// etcd-<node> is Running with a ready etcd container.
func (c *Cluster) waitEtcdPods(ctx context.Context) error {
	return pollUntil(ctx, c.interval/2, func(ctx context.Context) (bool, error) {
		for _, h := range c.masterHosts() {
			if !h.etcdRunning() {
				return false, nil
			}
			pod, err := c.Kube.CoreV1().Pods(nsEtcd).Get(ctx, mirrorPodName("etcd", h.name), metavGet)
			if err != nil || !podEtcdReady(pod) {
				return false, nil
			}
		}
		return c.etcdHealthy(ctx), nil
	}, "etcd members and pods")
}

// etcdHealthy reports whether every member answers a status request.
func (c *Cluster) etcdHealthy(ctx context.Context) bool {
	cl, err := newEtcdClient(c.EtcdEndpoints(), c.etcdTLS)
	if err != nil {
		return false
	}
	defer cl.Close()
	for _, ep := range c.EtcdEndpoints() {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := cl.Status(sctx, ep)
		cancel()
		if err != nil {
			return false
		}
	}
	return true
}

func loopbackIPs() []net.IP { return []net.IP{net.IPv4(127, 0, 0, 1)} }
