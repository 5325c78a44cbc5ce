package clustertest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
)

// The simulated kubelet of one host. Every Options.Interval (and at once
// when a file of the host is written or moved through the Host), it:
//
//   - runs the host's real etcd member while /etc/kubernetes/manifests/etcd-pod.yaml
//     exists: the manifest is parsed as a v1.Pod, the "etcd" container's
//     command (binary "etcd", mapped to Binaries.Etcd) is started with its
//     absolute paths mapped into the host tree through the container's
//     volumeMounts and the pod's hostPath volumes;
//   - stops the member (SIGTERM, then SIGKILL after 2s) when the file is moved away,
//     and restarts it when the file's content changes (a new revision);
//   - restarts a member that exited with a back-off that doubles from
//     10 ticks up to 100 ticks (the real kubelet's 10s to 5min, scaled), the
//     pod showing Error, then CrashLoopBackOff while it waits;
//   - keeps the mirror pod etcd-<node> in openshift-etcd true to that: phase
//     Running with containers etcdctl, etcd and etcd-metrics (only etcd is a
//     process; the other two are shown running while the pod runs), deleted
//     when the manifest is gone. The mirror pod is written by a loop of its
//     own, as the real kubelet's status manager does: an API server that
//     hangs (etcd without quorum) never delays starting or stopping etcd.
//
// The kube-apiserver, kube-controller-manager and kube-scheduler manifests
// are not executed; their containers are listed (Containers) while their
// manifests are present. A powered-off host runs nothing and lists nothing;
// its mirror pod keeps its last status, as on a real cluster until the node
// controller acts.

// Back-off of a crashing etcd member, in controller ticks.
const (
	crashBackoffTicks    = 10
	crashBackoffMaxTicks = 100
	// mirrorResyncTicks is how often the kubelet re-reads its mirror pod
	// from the API even when nothing changed locally (it may have been
	// deleted, or brought back by a restore).
	mirrorResyncTicks = 20
	// mirrorAPITimeout bounds each API call of a mirror pod sync.
	mirrorAPITimeout = 5 * time.Second
	// etcdStopGrace is how long a stopping etcd gets after SIGTERM before
	// SIGKILL. etcd spends several seconds draining the API server's watch
	// streams; the kubelet's real grace period would let it, the simulation
	// does not wait (a SIGKILL loses nothing: the page cache survives).
	etcdStopGrace = 2 * time.Second
	// shutdownTicksPerMinute scales host.Host.Shutdown delays: one minute is
	// this many ticks.
	shutdownTicksPerMinute = 10
	// crashFlag is appended to the etcd command line of a member made to
	// crash loop (setCrashloop): etcd refuses the unknown flag and exits 2.
	crashFlag = "--clustertest-injected-crash=true"
)

type kubelet struct {
	c    *Cluster
	h    *Host
	log  *slog.Logger
	wake chan struct{}
	// mirrorWake wakes the mirror pod loop (the kubelet's status manager):
	// it writes to the API on its own goroutine, so an API server that
	// hangs (etcd without quorum) never delays starting or stopping etcd.
	mirrorWake chan struct{}
	// mirrorAPI and mirrorTimeout replace, when set, the cluster's client
	// and the 5s bound of the mirror pod's API calls (tests: an API server
	// that hangs).
	mirrorAPI     kubernetes.Interface
	mirrorTimeout time.Duration

	mu       sync.Mutex
	powered  bool
	cancel   context.CancelFunc
	done     chan struct{}
	shutdown *time.Timer

	// killed: the member was killed (killEtcd) and is not restarted until
	// the kubelet restarts or the manifest changes.
	killed bool
	// crashloop: the member crashes at every start until the manifest
	// content differs from crashHash (or setCrashloop(false)).
	crashloop bool
	crashHash string

	etcd *etcdInstance
	// terminating is the instance being stopped (its manifest was moved
	// away or replaced): its containers are listed until it has exited.
	terminating *etcdInstance

	// Mirror pod sync state.
	mirrorKey   string
	mirrorAt    time.Time
	mirrorRetry time.Time
}

// etcdInstance is one etcd pod run from one manifest content.
type etcdInstance struct {
	hash     string
	pod      *corev1.Pod // nil when the manifest does not parse
	parseErr error
	revision int
	created  time.Time

	proc        *process
	startedAt   time.Time
	containerID string
	restarts    int32
	lastExit    *exitRecord
	nextStart   time.Time
	backoff     time.Duration
	starts      int
}

type exitRecord struct {
	code        int
	startedAt   time.Time
	finishedAt  time.Time
	containerID string
	message     string
}

func newKubelet(c *Cluster, h *Host) *kubelet {
	return &kubelet{
		c:    c,
		h:    h,
		log:  c.log.With("kubelet", h.name),
		wake: make(chan struct{}, 1),

		mirrorWake: make(chan struct{}, 1),
	}
}

// poke makes the kubelet sync now instead of at its next tick.
func (k *kubelet) poke() {
	select {
	case k.wake <- struct{}{}:
	default:
	}
	k.pokeMirror()
}

func (k *kubelet) isPowered() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.powered
}

// start powers the host on and starts the kubelet loop under ctx (the
// cluster's lifetime).
func (k *kubelet) start(ctx context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.powered {
		return
	}
	k.powered = true
	k.killed = false
	k.mirrorKey = ""
	lctx, cancel := context.WithCancel(ctx)
	k.cancel = cancel
	k.done = make(chan struct{})
	done := k.done
	go func() {
		defer close(done)
		k.loop(lctx)
	}()
	k.poke()
}

func (k *kubelet) powerOn() error {
	if err := k.c.ctx.Err(); err != nil {
		return fmt.Errorf("clustertest: powering on %s: cluster closed: %w", k.h.name, err)
	}
	k.start(k.c.ctx)
	k.log.Info("powered on")
	return nil
}

// powerOff stops the loop and every process; it returns once they exited.
func (k *kubelet) powerOff() error { return k.halt(false) }

// kill is powerOff with SIGKILL, for Close.
func (k *kubelet) kill() {
	if err := k.halt(true); err != nil {
		k.log.Warn("killing", "err", err)
	}
}

func (k *kubelet) halt(kill bool) error {
	k.mu.Lock()
	if !k.powered {
		k.mu.Unlock()
		return nil
	}
	k.powered = false
	cancel, done := k.cancel, k.done
	if k.shutdown != nil {
		k.shutdown.Stop()
		k.shutdown = nil
	}
	k.mu.Unlock()
	cancel()
	<-done
	k.mu.Lock()
	inst := k.etcd
	k.etcd = nil
	k.mu.Unlock()
	var err error
	if inst != nil && inst.proc != nil {
		if kill {
			err = inst.proc.kill()
		} else {
			err = inst.proc.stop(etcdStopGrace)
		}
	}
	k.log.Info("powered off")
	return err
}

// stop is powerOff for Close and removeHost.
func (k *kubelet) stop() {
	if err := k.powerOff(); err != nil {
		k.log.Warn("stopping", "err", err)
	}
}

// loop runs the pod loop (etcd) and, beside it, the mirror pod loop until
// ctx ends, and returns once both returned. Only masters run pods.
func (k *kubelet) loop(ctx context.Context) {
	if k.h.role != roleMaster {
		<-ctx.Done()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { k.mirrorLoop(ctx) })
	defer wg.Wait()
	t := time.NewTicker(k.c.interval)
	defer t.Stop()
	for {
		k.syncEtcd(ctx)
		k.pokeMirror()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-k.wake:
		}
	}
}

// syncEtcd brings the etcd process in line with the manifest.
func (k *kubelet) syncEtcd(ctx context.Context) {
	data, readErr := os.ReadFile(k.h.path(manifestPath(componentEtcd)))
	now := time.Now()

	// Phase 1: notice a removed or changed manifest; detach the old process.
	k.mu.Lock()
	if !k.powered || ctx.Err() != nil {
		k.mu.Unlock()
		return
	}
	var oldInst *etcdInstance
	switch {
	case readErr != nil:
		if k.etcd != nil {
			oldInst = k.etcd
			k.etcd = nil
			k.log.Info("etcd-pod.yaml gone: stopping etcd", "err", readErr)
		}
	default:
		hash := contentHash(data)
		if k.etcd == nil || k.etcd.hash != hash {
			if k.etcd != nil {
				oldInst = k.etcd
				k.log.Info("etcd-pod.yaml changed: restarting etcd")
			}
			inst := &etcdInstance{hash: hash, created: now}
			inst.pod, inst.parseErr = parsePodManifest(data)
			if inst.pod != nil {
				inst.revision = manifestRevision(inst.pod)
			} else {
				k.log.Warn("etcd-pod.yaml does not parse", "err", inst.parseErr)
			}
			k.etcd = inst
			k.killed = false
			if k.crashloop && k.crashHash != hash {
				k.crashloop = false
			}
		}
	}
	k.terminating = oldInst
	k.mu.Unlock()
	if oldInst != nil && oldInst.proc != nil {
		if err := oldInst.proc.stop(etcdStopGrace); err != nil {
			k.log.Warn("stopping etcd", "err", err)
		}
		k.log.Info("etcd stopped", "code", oldInst.proc.exitCode())
	}
	k.mu.Lock()
	k.terminating = nil
	k.mu.Unlock()

	// Phase 2: reap an exited process, start one when due.
	k.mu.Lock()
	defer k.mu.Unlock()
	inst := k.etcd
	if inst == nil || !k.powered {
		return
	}
	if inst.proc != nil && !inst.proc.running() {
		code := inst.proc.exitCode()
		inst.lastExit = &exitRecord{code: code, startedAt: inst.startedAt, finishedAt: now, containerID: inst.containerID}
		if code < 0 {
			inst.lastExit.code = 137 // killed by a signal, as CRI-O reports SIGKILL
		}
		inst.proc = nil
		if inst.lastExit.finishedAt.Sub(inst.startedAt) > 2*k.backoffMax() {
			inst.backoff = 0 // it ran long enough: start the back-off over
		}
		inst.backoff = k.nextBackoff(inst.backoff)
		inst.nextStart = now.Add(inst.backoff)
		k.log.Info("etcd exited", "code", inst.lastExit.code, "killed", k.killed, "restartIn", inst.backoff)
	}
	if inst.proc != nil || inst.pod == nil || k.killed || now.Before(inst.nextStart) {
		return
	}
	if inst.starts > 0 {
		inst.restarts++
	}
	inst.starts++
	inst.containerID = containerID(k.h.name, "etcd", inst.hash, inst.starts)
	argv, env, err := k.etcdCommand(inst.pod, k.crashloop && k.crashHash == inst.hash)
	if err == nil {
		inst.proc, err = startProcess("etcd "+k.h.name, argv, env, filepath.Join(k.c.logDir(), k.h.name+"-etcd.log"))
	}
	if err != nil {
		k.log.Warn("cannot start etcd", "err", err)
		inst.lastExit = &exitRecord{code: 128, startedAt: now, finishedAt: now, containerID: inst.containerID, message: err.Error()}
		inst.backoff = k.nextBackoff(inst.backoff)
		inst.nextStart = now.Add(inst.backoff)
		return
	}
	inst.startedAt = now
	k.log.Info("etcd started", "revision", inst.revision, "pid", inst.proc.pid(), "restarts", inst.restarts)
}

func (k *kubelet) backoffMax() time.Duration { return crashBackoffMaxTicks * k.c.interval }

func (k *kubelet) nextBackoff(cur time.Duration) time.Duration {
	if cur == 0 {
		return crashBackoffTicks * k.c.interval
	}
	return min(2*cur, k.backoffMax())
}

// etcdCommand returns the command line and environment of the pod's etcd
// container, with the binary and the paths mapped to this machine.
func (k *kubelet) etcdCommand(pod *corev1.Pod, crash bool) (argv, env []string, err error) {
	var ctr *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == "etcd" {
			ctr = &pod.Spec.Containers[i]
		}
	}
	if ctr == nil {
		return nil, nil, errors.New(`etcd-pod.yaml has no container "etcd"`)
	}
	cmd := append(append([]string{}, ctr.Command...), ctr.Args...)
	if len(cmd) == 0 || path.Base(cmd[0]) != "etcd" {
		return nil, nil, fmt.Errorf("etcd container command %q: the simulated kubelet runs only an etcd command line (binary \"etcd\")", cmd)
	}
	argv = []string{k.c.bins.Etcd}
	for _, a := range cmd[1:] {
		argv = append(argv, k.mapArg(pod, ctr, a))
	}
	// A host's page cache survives everything the simulation does to an
	// etcd process (kill, stop, power off), so fsync buys nothing here and
	// costs seconds on a busy disk.
	argv = append(argv, "--unsafe-no-fsync=true")
	if crash {
		argv = append(argv, crashFlag)
	}
	for _, e := range ctr.Env {
		if e.ValueFrom == nil {
			env = append(env, e.Name+"="+e.Value)
		}
	}
	return argv, env, nil
}

// mapArg maps an argument that is an absolute container path, or a flag
// whose value is one ("--data-dir=/var/lib/etcd"), into the host tree.
func (k *kubelet) mapArg(pod *corev1.Pod, ctr *corev1.Container, a string) string {
	mapPath := func(p string) string {
		return k.h.path(containerHostPath(pod, ctr, p))
	}
	if strings.HasPrefix(a, "/") {
		return mapPath(a)
	}
	if name, val, ok := strings.Cut(a, "="); ok && strings.HasPrefix(name, "-") && strings.HasPrefix(val, "/") {
		return name + "=" + mapPath(val)
	}
	return a
}

// resync makes the kubelet write its mirror pod at once (after the API
// objects it needs were created).
func (k *kubelet) resync() {
	k.mu.Lock()
	k.mirrorKey = ""
	k.mirrorRetry = time.Time{}
	k.mu.Unlock()
	k.poke()
}
