package realnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// rootPrefix begins the name of every node's root directory (in
// os.TempDir: containerd's socket path must stay short).
const rootPrefix = "lifeboat-realnode-"

// ErrNotRestored is wrapped by Close when, after undoing everything, the
// machine still differs from what New recorded (the error lists how).
var ErrNotRestored = errors.New("realnode: the machine is not as it was")

// Timings are how long the phases of New took.
type Timings struct {
	// Containerd is from its start until it answers on its socket.
	Containerd time.Duration
	// Images is building the pause binary, writing and importing the
	// image archives.
	Images time.Duration
	// NodeReady is from the kubelet's start until the Node is Ready.
	NodeReady time.Duration
	// Total is New's whole duration, the lock's wait excluded.
	Total time.Duration
}

// Node is one real node: containerd and a kubelet, registered with a
// clustertest cluster's API server as Name. Close undoes everything New
// did to the machine. A Node is safe for concurrent use.
type Node struct {
	opts        Options
	bins        Binaries
	cluster     *clustertest.Cluster
	log         *slog.Logger
	dir         string
	cgroupName  string
	kubeletPort int
	lock        *machineLock
	before      machineState
	addedAddr   bool
	madeCgroups []string
	timings     Timings

	mu         sync.Mutex
	containerd *proc
	kubelet    *proc
	closed     bool
	closeErr   error
}

// New starts a node registered with c's API server and returns once the
// Node is Ready. It waits for any other node on this machine to close
// first (Options.LockTimeout). When the machine cannot run a node the
// error wraps ErrUnavailable and nothing was changed; options out of range
// wrap lifeboat.ErrInvalidOptions. On any other failure what was done is undone
// before New returns. ctx bounds the bring-up, not the node's life.
func New(ctx context.Context, c *clustertest.Cluster, opts Options) (_ *Node, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if c == nil {
		return nil, opterr.Nil("realnode.New c")
	}
	opts.defaults()
	var bins Binaries
	if opts.Binaries != nil {
		bins = *opts.Binaries
	} else if bins, err = findBinaries(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("%w: ip (iproute2) not on PATH", ErrUnavailable)
	}
	lctx, cancel := context.WithTimeout(ctx, opts.LockTimeout)
	lock, err := lockMachine(lctx)
	cancel()
	if err != nil {
		return nil, err
	}
	began := opts.Now()
	n := &Node{opts: opts, bins: bins, cluster: c, log: opts.Logger.With("node", opts.Name), lock: lock}
	defer func() {
		if err != nil {
			if cerr := n.Close(); cerr != nil {
				err = fmt.Errorf("%w (undoing the bring-up: %v)", err, cerr)
			}
		}
	}()
	if _, err := recoverStale(ctx, n); err != nil {
		return n, err
	}
	if n.before, err = snapshot(); err != nil {
		return n, err
	}
	if n.dir, err = os.MkdirTemp("", rootPrefix); err != nil {
		return n, fmt.Errorf("realnode: %w", err)
	}
	n.cgroupName = cgroupPrefix + "-" + strings.TrimPrefix(filepath.Base(n.dir), rootPrefix)
	if err := n.writeRecord(); err != nil {
		return n, err
	}
	ctx, cancel = context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err := n.setUp(ctx); err != nil {
		return n, err
	}
	n.timings.Total = opts.Now().Sub(began)
	n.log.Info("real node ready", "containerd", n.timings.Containerd, "images", n.timings.Images, "nodeReady", n.timings.NodeReady, "total", n.timings.Total)
	return n, nil
}

// setUp does New's work after the lock and the snapshot.
func (n *Node) setUp(ctx context.Context) error {
	if err := n.addNodeIP(ctx); err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(n.opts.NodeIP, "0"))
	if err != nil {
		return fmt.Errorf("realnode: picking the kubelet's port: %w", err)
	}
	n.kubeletPort = l.Addr().(*net.TCPAddr).Port
	l.Close()
	made, err := createCgroupRoot(n.cgroupName)
	n.madeCgroups = made
	if err != nil {
		return err
	}
	pki := n.cluster.PKI
	client, err := pki.Issue("realnode-"+n.opts.Name+"-client", clustertest.CertOptions{
		CommonName: "system:node:" + n.opts.Name, Organization: []string{"system:nodes"}, Client: true})
	if err != nil {
		return fmt.Errorf("realnode: kubelet client certificate: %w", err)
	}
	serving, err := pki.Issue("realnode-"+n.opts.Name+"-serving", clustertest.CertOptions{
		CommonName: n.opts.Name, DNSNames: []string{n.opts.Name}, IPs: []net.IP{net.ParseIP(n.opts.NodeIP)}, Server: true})
	if err != nil {
		return fmt.Errorf("realnode: kubelet serving certificate: %w", err)
	}
	for _, d := range []string{"etc/kubernetes/manifests", "images", "kubelet/root", "log/pods", "containerd/state", "containerd/root", "runc"} {
		if err := os.MkdirAll(n.path(d), 0o755); err != nil {
			return fmt.Errorf("realnode: %w", err)
		}
	}
	if err := n.writeFiles(map[string]string{
		"containerd.toml":          n.containerdConfig(),
		"cni/10-loopback.conflist": cniConfig,
		"kubelet/config.yaml":      n.kubeletConfig(pki.CAFile(), serving.CertFile, serving.KeyFile),
	}); err != nil {
		return err
	}
	if err := writeKubeconfig(n.path("kubelet/kubeconfig"), n.cluster.APIServerURL(), pki.CAFile(), client.CertFile, client.KeyFile); err != nil {
		return err
	}

	t0 := n.opts.Now()
	if err := n.startContainerd(ctx); err != nil {
		return err
	}
	n.timings.Containerd = n.opts.Now().Sub(t0)
	n.log.Info("containerd ready", "took", n.timings.Containerd)

	t0 = n.opts.Now()
	if err := n.importImages(ctx); err != nil {
		return err
	}
	n.timings.Images = n.opts.Now().Sub(t0)
	n.log.Info("images imported", "took", n.timings.Images)

	t0 = n.opts.Now()
	if err := n.startKubelet(ctx); err != nil {
		return err
	}
	n.timings.NodeReady = n.opts.Now().Sub(t0)
	return nil
}

// addNodeIP adds NodeIP/32 to lo unless it is there (then it was not
// ours and stays).
func (n *Node) addNodeIP(ctx context.Context) error {
	for _, a := range n.before.LoAddrs {
		if strings.HasPrefix(a, n.opts.NodeIP+"/") {
			return nil
		}
	}
	if out, err := exec.CommandContext(ctx, "ip", "addr", "add", n.opts.NodeIP+"/32", "dev", "lo").CombinedOutput(); err != nil {
		return fmt.Errorf("realnode: adding %s to lo: %w: %s", n.opts.NodeIP, err, strings.TrimSpace(string(out)))
	}
	n.addedAddr = true
	return n.writeRecord()
}

func (n *Node) startContainerd(ctx context.Context) error {
	p, err := startProc(n.bins.Containerd, []string{"--config", n.path("containerd.toml")}, nil, n.path("containerd.log"))
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.containerd = p
	n.mu.Unlock()
	return pollUntil(ctx, 100*time.Millisecond, func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("realnode: containerd exited: %s", tail(n.path("containerd.log"), 15))
		}
		_, err := n.ctr(ctx, "version")
		return err == nil, nil
	}, "containerd to answer on "+n.Socket())
}

// ctr runs "ctr -a <socket> -n k8s.io args...".
func (n *Node) ctr(ctx context.Context, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, n.bins.Ctr, append([]string{"-a", n.Socket(), "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("realnode: ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// importImages builds PauseImage, DebugImage and EtcdImage and imports
// them into containerd's k8s.io namespace.
func (n *Node) importImages(ctx context.Context) error {
	dir := n.path("images")
	pause, err := buildPause(ctx, n.bins.Go, dir)
	if err != nil {
		return err
	}
	bb, err := busyboxFiles(ctx, n.bins.Busybox)
	if err != nil {
		return err
	}
	etcdFiles := append(append([]imageFile{}, bb...),
		imageFile{path: "usr/bin/etcd", src: n.bins.Etcd},
		imageFile{path: "usr/bin/etcdctl", src: n.bins.Etcdctl},
		imageFile{path: "usr/bin/etcdutl", src: n.bins.Etcdutl})
	if etcdFiles, err = withSharedLibs(ctx, etcdFiles); err != nil {
		return err
	}
	stdPath := "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, spec := range []imageSpec{
		{ref: pauseImage, files: []imageFile{{path: "pause", src: pause}}, entrypoint: []string{"/pause"}},
		{ref: DebugImage, files: bb, env: n.debugEnv(), cmd: []string{"/bin/sh"}},
		{ref: EtcdImage, files: etcdFiles, env: []string{stdPath}, cmd: []string{"/bin/sh"}},
	} {
		archive := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(spec.ref)+".tar")
		if err := writeImageArchive(archive, dir, spec); err != nil {
			return fmt.Errorf("realnode: image %s: %w", spec.ref, err)
		}
		if _, err := n.ctr(ctx, "images", "import", archive); err != nil {
			return err
		}
		if err := os.Remove(archive); err != nil {
			return fmt.Errorf("realnode: %w", err)
		}
	}
	return nil
}

func (n *Node) startKubelet(ctx context.Context) error {
	args := []string{
		"--config=" + n.path("kubelet/config.yaml"),
		"--kubeconfig=" + n.path("kubelet/kubeconfig"),
		"--root-dir=" + n.path("kubelet/root"),
		"--cert-dir=" + n.path("kubelet/pki"),
		"--hostname-override=" + n.opts.Name,
		"--node-ip=" + n.opts.NodeIP,
		"--v=2",
	}
	started := time.Now()
	p, err := startProc(n.bins.Kubelet, args, nil, n.path("kubelet.log"))
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.kubelet = p
	n.mu.Unlock()
	return pollUntil(ctx, 200*time.Millisecond, func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("realnode: kubelet exited: %s", tail(n.path("kubelet.log"), 20))
		}
		return n.nodeReady(ctx, started), nil
	}, "node "+n.opts.Name+" to be Ready")
}

// Name is the Node's name.
func (n *Node) Name() string { return n.opts.Name }

// IP is the node's InternalIP (on lo).
func (n *Node) IP() string { return n.opts.NodeIP }

// Root is the directory every file of the node lives under.
func (n *Node) Root() string { return n.dir }

// Path is rel under Root.
func (n *Node) Path(rel string) string { return n.path(rel) }

func (n *Node) path(rel string) string { return filepath.Join(n.dir, rel) }

// ManifestDir is the kubelet's static pod directory (Root +
// /etc/kubernetes/manifests).
func (n *Node) ManifestDir() string { return n.path("etc/kubernetes/manifests") }

// Socket is containerd's CRI socket path.
func (n *Node) Socket() string { return n.path("c.sock") }

// CrictlEnv is the environment under which "crictl" (as lifeboat's hosts
// run it) reaches this node: PATH with crictl's directory first and
// CONTAINER_RUNTIME_ENDPOINT.
func (n *Node) CrictlEnv() map[string]string {
	return map[string]string{
		"PATH":                       filepath.Dir(n.bins.Crictl) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"CONTAINER_RUNTIME_ENDPOINT": "unix://" + n.Socket(),
	}
}

// Crictl runs crictl against this node's containerd and returns its
// standard output.
func (n *Node) Crictl(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, n.bins.Crictl, append([]string{"--runtime-endpoint", "unix://" + n.Socket(), "--timeout", "30s"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("realnode: crictl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Timings are how long New's phases took.
func (n *Node) Timings() Timings { return n.timings }

// LogTails returns the last lines of containerd's and the kubelet's logs
// (for a failing test; empty once closed).
func (n *Node) LogTails(lines int) string {
	return "containerd:\n" + tail(n.path("containerd.log"), lines) + "\nkubelet:\n" + tail(n.path("kubelet.log"), lines)
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// pollUntil calls cond every interval until it is true or fails, or ctx
// ends.
func pollUntil(ctx context.Context, interval time.Duration, cond func() (bool, error), what string) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("realnode: waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}
