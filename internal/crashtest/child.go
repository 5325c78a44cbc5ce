package crashtest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// Child is the child's view of the cluster: hosts and clients whose
// mutations are the Killer's work points.
type Child struct {
	Spec   Spec
	Killer *Killer

	Kube     kubernetes.Interface
	Operator operatorclient.Interface
	Machine  machineclient.Interface
	Config   configclient.Interface

	hosts map[string]host.Host
}

// OpenChild returns the child's view when this process is a child (SpecEnv
// set); otherwise it skips t: TestCrashHelper does nothing in a normal run.
func OpenChild(t *testing.T) *Child {
	t.Helper()
	p := os.Getenv(SpecEnv)
	if p == "" {
		t.Skip("crash drill helper: runs only as a child of a crash test")
	}
	spec, err := readSpec(p)
	if err != nil {
		t.Fatal(err)
	}
	c := &Child{Spec: spec, Killer: newKiller(spec), hosts: map[string]host.Host{}}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for _, hs := range spec.Hosts {
		rt := &remoteRuntime{url: spec.RuntimeURL, host: hs.Name}
		c.hosts[hs.Name] = c.Killer.Host(host.NewLocal(hs.Name, hs.Root, host.LocalOptions{Runtime: rt, Logger: log}))
	}
	if spec.Kubeconfig == "" {
		return c // a plan without the API
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", spec.Kubeconfig)
	if err != nil {
		t.Fatalf("crashtest: kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	cfg.WarningHandler = rest.NoWarnings{}
	cfg.Wrap(c.Killer.Transport)
	if c.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.Operator, err = operatorclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.Machine, err = machineclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if c.Config, err = configclient.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

// Host returns the (killing) host of node; it fails t for an unknown node.
func (c *Child) Host(t *testing.T, node string) host.Host {
	t.Helper()
	h, ok := c.hosts[node]
	if !ok {
		t.Fatalf("crashtest: no host %s in the spec", node)
	}
	return h
}

// Params decodes the spec's plan parameters into v.
func (c *Child) Params(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(c.Spec.Params, v); err != nil {
		t.Fatalf("crashtest: params: %v", err)
	}
}

// Report is the plan's reporter: the Killer first, then a line on stderr.
func (c *Child) Report(e plan.Event) {
	c.Killer.Report(e)
	fmt.Fprintln(os.Stderr, e.String())
}

// Etcd returns a client of the etcd members whose mutations are work
// points. The caller closes it.
func (c *Child) Etcd(t *testing.T) *clientv3.Client {
	t.Helper()
	es := c.Spec.Etcd
	ca, err := os.ReadFile(es.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("crashtest: %s holds no certificate", es.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(es.CertFile, es.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := clientv3.New(clientv3.Config{
		Endpoints:   es.Endpoints,
		TLS:         &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(c.Killer.GRPCInterceptor)},
	})
	if err != nil {
		t.Fatalf("crashtest: etcd client: %v", err)
	}
	return cl
}
