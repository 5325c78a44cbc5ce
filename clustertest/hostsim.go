package clustertest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrHostDown is returned (wrapped) by every operation of a Host whose
// machine is powered off: like a master that does not answer SSH.
var ErrHostDown = errors.New("clustertest: host is powered off")

// Roles of a host.
const (
	roleMaster = "master"
	roleWorker = "worker"
)

// Host is one simulated node: a directory tree with the OpenShift layout
// (Root is its "/"), reached through the host.Host operations, with a
// simulated kubelet (see kubelet.go) and a power switch.
//
// Files are read and written by host.Local beneath Root. Containers,
// RestartKubelet and Shutdown are carried out by the host's kubelet.
// Shutdown(ctx, d) powers the host off after d scaled down: one minute of
// real time is ten controller ticks (Options.Interval, 100ms by default),
// so the runbook's "shutdown -h 1" takes one second.
//
// While the host is powered off every operation fails with an error
// wrapping ErrHostDown; Root still gives tests direct access to the tree.
// Run runs commands on the machine running the test, as host.Local does;
// it does not map paths into the tree.
type Host struct {
	local   *host.Local
	c       *Cluster
	name    string
	role    string
	ip      string
	root    string
	kubelet *kubelet

	// Loopback URLs of this host's etcd member (masters only).
	clientURL, peerURL string

	// joining is the ID of the etcd member the operator added for this
	// host and started on its data directory (0: none yet): that
	// directory is this member's, even before the member publishes its
	// name, and must never be moved aside as stale.
	joinMu  sync.Mutex
	joining uint64
}

func (h *Host) setJoining(id uint64) {
	h.joinMu.Lock()
	defer h.joinMu.Unlock()
	h.joining = id
}

func (h *Host) joiningMember() uint64 {
	h.joinMu.Lock()
	defer h.joinMu.Unlock()
	return h.joining
}

var _ host.Host = (*Host)(nil)

// Name is the node name.
func (h *Host) Name() string { return h.name }

// Role is roleMaster or roleWorker.
func (h *Host) Role() string { return h.role }

// IP is the node's InternalIP (10.0.x.y; not reachable, it is a name).
func (h *Host) IP() string { return h.ip }

// Root is the directory standing for the host's "/".
func (h *Host) Root() string { return h.root }

// EtcdClientURL is the client URL of this host's etcd member
// (https://127.0.0.1:<port>, fixed for the host's life); "" on a worker.
func (h *Host) EtcdClientURL() string { return h.clientURL }

// EtcdPeerURL is the peer URL of this host's etcd member; "" on a worker.
func (h *Host) EtcdPeerURL() string { return h.peerURL }

// Powered reports whether the host's machine is on.
func (h *Host) Powered() bool { return h.kubelet.isPowered() }

// PowerOff switches the machine off at once: the kubelet stops and every
// process of the host (its etcd member) is stopped. It returns once they
// have exited. Powering off a host that is off is a no-op.
func (h *Host) PowerOff() error { return h.kubelet.powerOff() }

// PowerOn switches the machine on: the kubelet starts afresh and runs the
// static pods in the manifest directory. Powering on a host that is on is a
// no-op.
func (h *Host) PowerOn() error { return h.kubelet.powerOn() }

// path maps a host path into the tree, for this package's own use.
func (h *Host) path(p string) string {
	return filepath.Join(h.root, filepath.FromSlash(strings.TrimPrefix(p, "/")))
}

func (h *Host) down(op, p string) error {
	if h.Powered() {
		return nil
	}
	return fmt.Errorf("host %s: %s %s: %w", h.name, op, p, ErrHostDown)
}

// ReadFile implements host.Host.
func (h *Host) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := h.down("read", p); err != nil {
		return nil, err
	}
	return h.local.ReadFile(ctx, p)
}

// Open implements host.Host.
func (h *Host) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := h.down("open", p); err != nil {
		return nil, err
	}
	return h.local.Open(ctx, p)
}

// WriteFile implements host.Host. A write into the manifest directory wakes
// the kubelet.
func (h *Host) WriteFile(ctx context.Context, p string, r io.Reader, perm fs.FileMode) error {
	if err := h.down("write", p); err != nil {
		return err
	}
	err := h.local.WriteFile(ctx, p, r, perm)
	h.kubelet.poke()
	return err
}

// Stat implements host.Host.
func (h *Host) Stat(ctx context.Context, p string) (host.FileInfo, error) {
	if err := h.down("stat", p); err != nil {
		return host.FileInfo{}, err
	}
	return h.local.Stat(ctx, p)
}

// ReadDir implements host.Host.
func (h *Host) ReadDir(ctx context.Context, p string) ([]host.FileInfo, error) {
	if err := h.down("readdir", p); err != nil {
		return nil, err
	}
	return h.local.ReadDir(ctx, p)
}

// MkdirAll implements host.Host.
func (h *Host) MkdirAll(ctx context.Context, p string, perm fs.FileMode) error {
	if err := h.down("mkdir", p); err != nil {
		return err
	}
	return h.local.MkdirAll(ctx, p, perm)
}

// Move implements host.Host. A move wakes the kubelet, so moving a manifest
// out of (or into) /etc/kubernetes/manifests takes effect at once.
func (h *Host) Move(ctx context.Context, src, dst string) error {
	if err := h.down("move", src); err != nil {
		return err
	}
	err := h.local.Move(ctx, src, dst)
	h.kubelet.poke()
	return err
}

// Containers implements host.Host with the kubelet's view (what
// "crictl ps --name" lists).
func (h *Host) Containers(ctx context.Context, name string) ([]host.Container, error) {
	if err := h.down("crictl ps", name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("host %s: crictl ps: %w", h.name, err)
	}
	return h.kubelet.Containers(ctx, name)
}

// RestartKubelet implements host.Host.
func (h *Host) RestartKubelet(ctx context.Context) error {
	if err := h.down("systemctl restart", "kubelet.service"); err != nil {
		return err
	}
	return h.kubelet.RestartKubelet(ctx)
}

// Shutdown implements host.Host: the host powers off after delay, scaled
// down (one minute becomes ten controller ticks). It returns at once, as
// "shutdown -h 1" does.
func (h *Host) Shutdown(ctx context.Context, delay time.Duration) error {
	if err := h.down("shutdown", ""); err != nil {
		return err
	}
	return h.kubelet.Shutdown(ctx, delay)
}

// Run implements host.Host: argv runs on the machine running the test (see
// host.Local.Run).
func (h *Host) Run(ctx context.Context, stdin io.Reader, argv ...string) ([]byte, error) {
	if err := h.down("run", strings.Join(argv, " ")); err != nil {
		return nil, err
	}
	return h.local.Run(ctx, stdin, argv...)
}

// LocalPath implements host.Host: paths map into Root.
func (h *Host) LocalPath(p string) (string, bool) { return h.local.LocalPath(p) }

// ---- building hosts ----

// newHost creates the Host value for node (no tree yet). Masters get etcd
// ports.
func (c *Cluster) newHost(node, role, ip string) (*Host, error) {
	root := filepath.Join(c.dir, "hosts", node)
	h := &Host{c: c, name: node, role: role, ip: ip, root: root}
	if role == roleMaster {
		cp, err := c.allocPort()
		if err != nil {
			return nil, err
		}
		pp, err := c.allocPort()
		if err != nil {
			return nil, err
		}
		h.clientURL = fmt.Sprintf("https://127.0.0.1:%d", cp)
		h.peerURL = fmt.Sprintf("https://127.0.0.1:%d", pp)
	}
	h.kubelet = newKubelet(c, h)
	h.local = host.NewLocal(node, root, host.LocalOptions{Runtime: h.kubelet, Logger: c.log})
	return h, nil
}

// baseTree creates the directories every node has.
func (h *Host) baseTree() error {
	for _, d := range []string{manifestsDir, staticPodResourcesDir, "/var/lib/kubelet/pki", "/home/core", "/tmp", "/usr/local/bin"} {
		if err := os.MkdirAll(h.path(d), 0o755); err != nil {
			return fmt.Errorf("clustertest: host %s: %w", h.name, err)
		}
	}
	if h.role == roleMaster {
		if err := os.MkdirAll(h.path(etcdDataDir), 0o700); err != nil {
			return fmt.Errorf("clustertest: host %s: %w", h.name, err)
		}
	}
	return nil
}

// memberCerts are the PEM files of one etcd member.
type memberCerts struct {
	peerCrt, peerKey, servingCrt, servingKey, metricsCrt, metricsKey []byte
}

// issueEtcdCerts issues node's etcd peer, serving and metrics certificates
// and writes them, with the CA bundles, into the host's etcd-certs
// directory.
func (c *Cluster) issueEtcdCerts(h *Host) (*memberCerts, error) {
	server, peer, err := issueEtcdMemberCerts(c.PKI, h.name)
	if err != nil {
		return nil, err
	}
	metrics, err := c.PKI.Issue("etcd-serving-metrics-"+h.name, CertOptions{
		CommonName: "system:etcd-metric:" + h.name,
		DNSNames:   []string{"localhost", h.name},
		IPs:        loopbackIPs(),
	})
	if err != nil {
		return nil, err
	}
	mc := &memberCerts{}
	for _, f := range []struct {
		dst  *[]byte
		path string
	}{
		{&mc.peerCrt, peer.CertFile}, {&mc.peerKey, peer.KeyFile},
		{&mc.servingCrt, server.CertFile}, {&mc.servingKey, server.KeyFile},
		{&mc.metricsCrt, metrics.CertFile}, {&mc.metricsKey, metrics.KeyFile},
	} {
		if *f.dst, err = os.ReadFile(f.path); err != nil {
			return nil, fmt.Errorf("clustertest: reading issued certificate: %w", err)
		}
	}
	peerCrt, peerKey, servingCrt, servingKey, metricsCrt, metricsKey := etcdCertPaths(h.name)
	ca := c.PKI.CAPEM()
	files := map[string][]byte{
		peerCrt: mc.peerCrt, peerKey: mc.peerKey,
		servingCrt: mc.servingCrt, servingKey: mc.servingKey,
		metricsCrt: mc.metricsCrt, metricsKey: mc.metricsKey,
		etcdServingCABundle: ca, etcdPeerCABundle: ca,
		"configmaps/etcd-metrics-proxy-serving-ca/ca-bundle.crt": ca,
	}
	prefixed := map[string][]byte{}
	for p, b := range files {
		prefixed[etcdCertsDir+"/"+p] = b
	}
	if err := writeTree(h.root, prefixed); err != nil {
		return nil, err
	}
	return mc, nil
}

// ensureEtcdSecrets creates the etcd-peer-, etcd-serving- and
// etcd-serving-metrics-<node> secrets in openshift-etcd, as the etcd
// operator's certificate controller does. Existing secrets are kept.
func (c *Cluster) ensureEtcdSecrets(ctx context.Context, node string, mc *memberCerts) error {
	for _, s := range []struct {
		name     string
		crt, key []byte
	}{
		{"etcd-peer-" + node, mc.peerCrt, mc.peerKey},
		{"etcd-serving-" + node, mc.servingCrt, mc.servingKey},
		{"etcd-serving-metrics-" + node, mc.metricsCrt, mc.metricsKey},
	} {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Name:        s.name,
				Namespace:   nsEtcd,
				Annotations: map[string]string{"auth.openshift.io/certificate-hostnames": "localhost,127.0.0.1," + node},
			},
			Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: s.crt, corev1.TLSPrivateKeyKey: s.key},
		}
		_, err := c.Kube.CoreV1().Secrets(nsEtcd).Create(ctx, secret, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("clustertest: creating secret %s: %w", s.name, err)
		}
	}
	return nil
}

// addHost creates the host of a new node: its tree, its kubelet (running,
// powered on) and, for a master, etcd certificates in the tree and the
// member's secrets in openshift-etcd, an empty /var/lib/etcd, and the
// kube-apiserver, kube-controller-manager and kube-scheduler manifests at
// the current revision of each operator (or the initial revision if the
// operator object cannot be read). No etcd manifest is written: C2's etcd
// operator adds the member and writes etcd-pod.yaml (writeEtcdRevision).
// The node's IP is taken from its name (ip-10-0-X-Y...) when it has that
// form. addHost fails if a host of that name exists.
func (c *Cluster) addHost(ctx context.Context, node, role string) (*Host, error) {
	if role != roleMaster && role != roleWorker {
		return nil, fmt.Errorf("clustertest: adding host %s: unknown role %q", node, role)
	}
	c.mu.Lock()
	_, exists := c.hosts[node]
	c.mu.Unlock()
	if exists {
		return nil, fmt.Errorf("clustertest: adding host %s: %w", node, fs.ErrExist)
	}
	h, err := c.newHost(node, role, ipFromNodeName(node))
	if err != nil {
		return nil, err
	}
	if err := h.baseTree(); err != nil {
		return nil, err
	}
	if role == roleMaster {
		mc, err := c.issueEtcdCerts(h)
		if err != nil {
			return nil, err
		}
		if err := c.ensureEtcdSecrets(ctx, node, mc); err != nil {
			return nil, err
		}
		for _, comp := range staticPodComponents[1:] {
			rev := c.latestRevision(ctx, comp)
			if err := c.writeStaticPodRevision(h, comp, rev); err != nil {
				return nil, err
			}
		}
	}
	c.mu.Lock()
	if _, dup := c.hosts[node]; dup {
		c.mu.Unlock()
		return nil, fmt.Errorf("clustertest: adding host %s: %w", node, fs.ErrExist)
	}
	c.hosts[node] = h
	c.order = append(c.order, node)
	c.mu.Unlock()
	h.kubelet.start(c.ctx)
	c.log.Info("host added", "node", node, "role", role)
	return h, nil
}

// latestRevision is status.latestAvailableRevision of component's operator
// object, or the component's initial revision when it cannot be read.
func (c *Cluster) latestRevision(ctx context.Context, component string) int {
	var rev int32
	var err error
	ops := c.Operator.OperatorV1()
	switch component {
	case componentEtcd:
		o, e := ops.Etcds().Get(ctx, "cluster", metav1.GetOptions{})
		if err = e; err == nil {
			rev = o.Status.LatestAvailableRevision
		}
	case componentKubeAPIServer:
		o, e := ops.KubeAPIServers().Get(ctx, "cluster", metav1.GetOptions{})
		if err = e; err == nil {
			rev = o.Status.LatestAvailableRevision
		}
	case componentKubeControllerManager:
		o, e := ops.KubeControllerManagers().Get(ctx, "cluster", metav1.GetOptions{})
		if err = e; err == nil {
			rev = o.Status.LatestAvailableRevision
		}
	case componentKubeScheduler:
		o, e := ops.KubeSchedulers().Get(ctx, "cluster", metav1.GetOptions{})
		if err = e; err == nil {
			rev = o.Status.LatestAvailableRevision
		}
	}
	if err != nil || rev == 0 {
		return initialRevisions[component]
	}
	return int(rev)
}

// removeHost takes node's machine away for good: its kubelet stops (and
// with it the etcd member), the host leaves the cluster and its tree is
// deleted, as a terminated instance's disk is. The etcd member stays in the
// member list. Removing an unknown host is a no-op.
func (c *Cluster) removeHost(node string) {
	c.mu.Lock()
	h := c.hosts[node]
	delete(c.hosts, node)
	for i, n := range c.order {
		if n == node {
			c.order = append(c.order[:i:i], c.order[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	if h == nil {
		return
	}
	h.kubelet.stop()
	if err := os.RemoveAll(h.root); err != nil {
		c.log.Warn("removing host tree", "node", node, "err", err)
	}
	c.log.Info("host removed", "node", node)
}

// ipFromNodeName returns 10.0.X.Y for a node named ip-10-0-X-Y(.domain),
// "" otherwise.
func ipFromNodeName(node string) string {
	rest, ok := strings.CutPrefix(node, "ip-")
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, ".")
	return strings.ReplaceAll(rest, "-", ".")
}

// DialContext implements host.Dialer: the simulated host's loopback is the
// test machine's. It fails with ErrHostDown while the host is off.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := h.down("dial", addr); err != nil {
		return nil, err
	}
	return h.local.DialContext(ctx, network, addr)
}
