package clustertest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// The simulated operators (controllers.go, operator_etcd.go,
// operator_staticpod.go), the machine API (machineapi.go), the node
// lifecycle controller (nodes.go) and the kubelets' certificate requests with
// their signer (csr.go) are small polling controllers. Each runs one
// reconcile pass per Options.Interval tick until the context given to
// startControllers is cancelled (Close). A pass reads the current objects,
// compares them with the hosts and the etcd cluster, and writes only what
// changed; an error in a pass is logged at debug level and retried on the
// next tick, the way a real controller requeues.

// defaultControllerInterval is the tick used when Options.Interval is zero.
const defaultControllerInterval = 100 * time.Millisecond

// simState is the in-memory state the simulated controllers and the fault
// injectors share for one Cluster.
type simState struct {
	wg sync.WaitGroup

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
}

var (
	simStatesMu sync.Mutex
	simStates   = map[*Cluster]*simState{}
)

// sim returns the controllers' shared state for c, creating it on first use.
func (c *Cluster) sim() *simState {
	simStatesMu.Lock()
	defer simStatesMu.Unlock()
	s := simStates[c]
	if s == nil {
		s = &simState{
			certs:        map[string]*nodeCerts{},
			machineNodes: map[string]string{},
			rollouts:     map[string]*installing{},
			etcdHealth:   map[string]*etcdHealthClient{},
			coWritten:    map[string]*writtenConditions{},
		}
		simStates[c] = s
	}
	return s
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
		{"node-lifecycle", c.syncNodes},
		{"kubelet-csr", c.syncNodeCSRs},
		{"csr-signer", c.syncCSRSigner},
		{"etcd-operator", c.syncEtcdOperator},
		{"kube-apiserver-operator", c.staticPodOperatorSync(kubeAPIServerOperator)},
		{"kube-controller-manager-operator", c.staticPodOperatorSync(kubeControllerManagerOperator)},
		{"kube-scheduler-operator", c.staticPodOperatorSync(kubeSchedulerOperator)},
	}
	interval := c.controllerInterval()
	for _, l := range loops {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				if err := l.sync(ctx); err != nil && ctx.Err() == nil {
					log.Debug("controller pass failed", "controller", l.name, "err", err)
				}
			}, interval)
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
// has returned (after its context was cancelled) and forgets c's state.
func (c *Cluster) waitControllers() {
	s := c.sim()
	s.wg.Wait()
	simStatesMu.Lock()
	delete(simStates, c)
	simStatesMu.Unlock()
}
