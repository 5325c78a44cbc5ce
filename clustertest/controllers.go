package clustertest

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The simulated operators (controllers.go, operator_etcd.go,
// operator_staticpod.go), the machine API (machineapi.go), the node
// lifecycle controller (nodes.go) and the kubelets' certificate requests with
// their signer (csr.go) are small polling controllers running until the
// context given to startControllers is cancelled (Close). A pass reads the
// current objects, compares them with the hosts and the etcd cluster, and
// writes only what changed; an error in a pass is logged at debug level and
// retried on the next tick, the way a real controller requeues.
//
// Passes run every Options.Interval while anything is happening (a write by
// any controller, a rollout or a certificate request in progress, an error,
// a fault injected); while the cluster is quiet the period doubles up to
// ten intervals (one second by default), so an idle cluster costs little.
// Changes made by a test through the API are therefore noticed within ten
// intervals.

// defaultControllerInterval is the tick used when Options.Interval is zero.
const defaultControllerInterval = 100 * time.Millisecond

// maxIdleTicks bounds the back-off of a quiet controller, in intervals.
const maxIdleTicks = 10

// controllerRequestTimeout bounds each API request of the controllers.
const controllerRequestTimeout = 5 * time.Second

// slowPass is the duration of a pass, in intervals, above which it is
// logged (debug): a pass that blocks delays everything its controller does.
const slowPass = 10

// simState is the in-memory state the simulated controllers and the fault
// injectors share for one Cluster.
type simState struct {
	wg sync.WaitGroup

	// Clients of the controllers (the admin identity, writes counted).
	kube     kubernetes.Interface
	operator operatorclient.Interface
	config   configclient.Interface
	machine  machineclient.Interface
	// writes counts the controllers' mutating API requests.
	writes atomic.Int64
	// kicks wake every loop at once (faults).
	kicksMu sync.Mutex
	kicks   []chan struct{}

	mu sync.Mutex
	// certs holds, per node name, the kubelet certificate state set by
	// ExpireNodeCertificates and advanced by the CSR controllers.
	certs map[string]*nodeCerts
	// machineNodes maps a Machine's UID to the node name chosen for it when
	// it started provisioning.
	machineNodes map[string]string
	// rollouts holds, per static pod operator, the node being installed.
	rollouts map[string]*installing
	// etcdHealth caches etcd clients per member client URL ("*": all
	// masters).
	etcdHealth map[string]*etcdHealthClient
	// masters caches the master node names for one tick (masterNodes).
	masters   []string
	mastersAt time.Time
	// coWritten holds the ClusterOperator conditions last written.
	coWritten map[string]*writtenConditions
	// guardBlocked is the etcd quorum guard's last refusal ("" when it
	// let a revision through or was not asked; quorumguard.go).
	guardBlocked string
	// revWritten is when each host's etcd-rev last wrote (etcd_rev.go).
	revWritten map[*Host]time.Time
}

// sim returns the controllers' shared state for c, creating it on first use.
func (c *Cluster) sim() *simState {
	c.simOnce.Do(func() {
		c.simSt = &simState{
			certs:        map[string]*nodeCerts{},
			machineNodes: map[string]string{},
			rollouts:     map[string]*installing{},
			etcdHealth:   map[string]*etcdHealthClient{},
			coWritten:    map[string]*writtenConditions{},
		}
	})
	return c.simSt
}

// The controllers' clients; before startControllers made them, the
// cluster's own.
func (c *Cluster) ctlKube() kubernetes.Interface {
	if s := c.sim(); s.kube != nil {
		return s.kube
	}
	return c.Kube
}

func (c *Cluster) ctlOperator() operatorclient.Interface {
	if s := c.sim(); s.operator != nil {
		return s.operator
	}
	return c.Operator
}

func (c *Cluster) ctlConfig() configclient.Interface {
	if s := c.sim(); s.config != nil {
		return s.config
	}
	return c.Config
}

func (c *Cluster) ctlMachine() machineclient.Interface {
	if s := c.sim(); s.machine != nil {
		return s.machine
	}
	return c.Machine
}

// countingTransport counts mutating requests.
type countingTransport struct {
	next   http.RoundTripper
	writes *atomic.Int64
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		t.writes.Add(1)
	}
	return t.next.RoundTrip(r)
}

// newControllerClients builds the controllers' clientsets from the admin
// REST config, with a transport counting writes.
func (c *Cluster) newControllerClients(s *simState) error {
	cfg := rest.CopyConfig(c.RESTConfig)
	// A request bounded in time: while etcd has no quorum the API server
	// holds requests for up to a minute, and client-go retries a GET whose
	// connection was lost; a pass stuck there would act on nothing for that
	// long after the API is back. A pass that times out is retried on the
	// next tick, like any failed pass.
	cfg.Timeout = controllerRequestTimeout
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, writes: &s.writes} })
	var err error
	if s.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if s.operator, err = operatorclient.NewForConfig(cfg); err != nil {
		return err
	}
	if s.config, err = configclient.NewForConfig(cfg); err != nil {
		return err
	}
	s.machine, err = machineclient.NewForConfig(cfg)
	return err
}

// kickControllers makes every controller run a pass now.
func (c *Cluster) kickControllers() {
	s := c.sim()
	s.kicksMu.Lock()
	defer s.kicksMu.Unlock()
	for _, k := range s.kicks {
		select {
		case k <- struct{}{}:
		default:
		}
	}
}

// busy reports work in progress that the controllers must follow closely.
func (s *simState) busy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rollouts) > 0 {
		return true
	}
	for _, st := range s.certs {
		if st.expired || st.needServe {
			return true
		}
	}
	return false
}

// controllerInterval is the reconcile period of the simulated controllers.
func (c *Cluster) controllerInterval() time.Duration {
	if c.interval > 0 {
		return c.interval
	}
	return defaultControllerInterval
}

// controllerLogger is the logger of the simulated controllers.
func (c *Cluster) controllerLogger() *slog.Logger {
	if c.log != nil {
		return c.log.With("component", "controllers")
	}
	return slog.New(slog.DiscardHandler)
}

// startControllers starts the simulated operators, machine API and node
// controllers. They stop when ctx is cancelled; waitControllers waits for
// them to return.
func (c *Cluster) startControllers(ctx context.Context) error {
	s := c.sim()
	if err := c.newControllerClients(s); err != nil {
		return err
	}
	log := c.controllerLogger()
	// Record the forceRedeploymentReason each operator starts with before
	// anyone can change it, so a patch right after New makes a revision.
	for _, op := range []*staticPodOperator{etcdOperator, kubeAPIServerOperator, kubeControllerManagerOperator, kubeSchedulerOperator} {
		if err := c.observeInitialReason(ctx, op); err != nil {
			return err
		}
	}
	loops := []struct {
		name string
		sync func(context.Context) error
	}{
		{"machine-api", c.syncMachines},
		{"control-plane-machine-set", c.syncControlPlaneMachineSet},
		{"node-lifecycle", c.syncNodes},
		{"kubelet-csr", c.syncNodeCSRs},
		{"csr-signer", c.syncCSRSigner},
		{"etcd-operator", c.syncEtcdOperator},
		{"etcd-rev", c.syncEtcdRev},
		{"kube-apiserver-operator", c.staticPodOperatorSync(kubeAPIServerOperator)},
		{"kube-controller-manager-operator", c.staticPodOperatorSync(kubeControllerManagerOperator)},
		{"kube-scheduler-operator", c.staticPodOperatorSync(kubeSchedulerOperator)},
	}
	interval := c.controllerInterval()
	for _, l := range loops {
		kick := make(chan struct{}, 1)
		s.kicksMu.Lock()
		s.kicks = append(s.kicks, kick)
		s.kicksMu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			delay := interval
			timer := time.NewTimer(0)
			defer timer.Stop()
			seen := s.writes.Load()
			for {
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				case <-kick:
					delay = interval
				}
				began := time.Now()
				err := l.sync(ctx)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					log.Debug("controller pass failed", "controller", l.name, "err", err, "took", time.Since(began))
				} else if took := time.Since(began); took > slowPass*interval {
					log.Debug("slow controller pass", "controller", l.name, "took", took)
				}
				now := s.writes.Load()
				if err != nil || now != seen || s.busy() {
					delay = interval
				} else {
					delay = min(2*delay, maxIdleTicks*interval)
				}
				seen = now
				timer.Reset(delay)
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		s.closeEtcdHealthClients()
	}()
	return nil
}

// waitControllers waits until every controller started by startControllers
// has returned (after its context was cancelled).
func (c *Cluster) waitControllers() {
	c.sim().wg.Wait()
}
