package clustertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
)

// The kubelet as a host.Runtime (crictl ps, systemctl restart kubelet,
// shutdown) and the hooks the fault injectors and operators use.

// etcdRunning reports whether the host's etcd process is running.
func (h *Host) etcdRunning() bool {
	k := h.kubelet
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.powered && k.etcd != nil && k.etcd.proc != nil && k.etcd.proc.running()
}

// etcdRevision reports the revision label of the manifest the running etcd
// process was started from and when it started; ok is false when no etcd
// process runs.
func (h *Host) etcdRevision() (revision int, started time.Time, ok bool) {
	k := h.kubelet
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.powered || k.etcd == nil || k.etcd.proc == nil || !k.etcd.proc.running() {
		return 0, time.Time{}, false
	}
	return k.etcd.revision, k.etcd.startedAt, true
}

// etcdPID is the pid of the running etcd process, 0 if none.
func (k *kubelet) etcdPID() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.etcd == nil || k.etcd.proc == nil || !k.etcd.proc.running() {
		return 0
	}
	return k.etcd.proc.pid()
}

// killEtcd kills the host's etcd process with SIGKILL. The kubelet does not
// restart it until RestartKubelet, a power cycle or a new manifest. Killing
// when nothing runs is not an error (the member just stays down).
func (h *Host) killEtcd() error {
	k := h.kubelet
	k.mu.Lock()
	k.killed = true
	var p *process
	if k.etcd != nil {
		p = k.etcd.proc
	}
	k.mu.Unlock()
	if p != nil {
		if err := p.kill(); err != nil {
			return err
		}
	}
	k.poke()
	return nil
}

// setCrashloop makes the host's etcd crash at every start (on) or start
// normally again (off). Turned on, the running member is killed and every
// restart runs etcd with an unknown flag, so the process really exits
// (code 2) and the kubelet's back-off shows Error and CrashLoopBackOff. It
// turns itself off when etcd-pod.yaml gets a different content (the
// operator installing a new revision).
func (h *Host) setCrashloop(on bool) {
	k := h.kubelet
	k.mu.Lock()
	k.crashloop = on
	var p *process
	if k.etcd != nil {
		k.crashHash = k.etcd.hash
		if on {
			p = k.etcd.proc
		} else {
			k.etcd.nextStart = time.Time{}
			k.etcd.backoff = 0
		}
	} else if data, err := os.ReadFile(h.path(manifestPath(componentEtcd))); err == nil {
		k.crashHash = contentHash(data)
	}
	k.mu.Unlock()
	if p != nil {
		_ = p.kill()
	}
	k.poke()
}

// Containers implements host.Runtime: the running containers whose name
// contains name, as "crictl ps --name" lists them.
func (k *kubelet) Containers(ctx context.Context, name string) ([]host.Container, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.powered {
		return nil, fmt.Errorf("host %s: crictl ps: %w", k.h.name, ErrHostDown)
	}
	var out []host.Container
	add := func(ctr, pod, id string) {
		if strings.Contains(ctr, name) {
			out = append(out, host.Container{ID: id, Name: ctr, Pod: pod, State: "Running"})
		}
	}
	for _, comp := range staticPodComponents {
		if comp == componentEtcd {
			if t := k.terminating; t != nil && t.pod != nil && t.proc != nil && t.proc.running() {
				for _, ctr := range t.pod.Spec.Containers {
					id := containerID(k.h.name, ctr.Name, t.hash, 0)
					if ctr.Name == "etcd" {
						id = t.containerID
					}
					add(ctr.Name, t.pod.Name+"-"+k.h.name, id)
				}
			}
			inst := k.etcd
			if inst == nil || inst.pod == nil {
				continue
			}
			podName := inst.pod.Name + "-" + k.h.name
			for _, ctr := range inst.pod.Spec.Containers {
				if ctr.Name == "etcd" {
					if inst.proc != nil && inst.proc.running() {
						add(ctr.Name, podName, inst.containerID)
					}
					continue
				}
				add(ctr.Name, podName, containerID(k.h.name, ctr.Name, inst.hash, 0))
			}
			continue
		}
		data, err := os.ReadFile(k.h.path(manifestPath(comp)))
		if err != nil {
			continue
		}
		pod, err := parsePodManifest(data)
		if err != nil {
			continue
		}
		hash := contentHash(data)
		for _, ctr := range pod.Spec.Containers {
			add(ctr.Name, pod.Name+"-"+k.h.name, containerID(k.h.name, ctr.Name, hash, 0))
		}
	}
	return out, nil
}

// RestartKubelet implements host.Runtime: the kubelet re-reads its
// manifests, forgets a kill (killEtcd) and the crash back-off, and
// re-syncs its mirror pod. A running etcd keeps running.
func (k *kubelet) RestartKubelet(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("host %s: restarting kubelet: %w", k.h.name, err)
	}
	k.mu.Lock()
	if !k.powered {
		k.mu.Unlock()
		return fmt.Errorf("host %s: restarting kubelet: %w", k.h.name, ErrHostDown)
	}
	k.killed = false
	if k.etcd != nil {
		k.etcd.backoff = 0
		k.etcd.nextStart = time.Time{}
	}
	k.mirrorKey = ""
	k.mirrorRetry = time.Time{}
	k.mu.Unlock()
	k.log.Info("kubelet restarted")
	k.poke()
	return nil
}

// Shutdown implements host.Runtime: the host powers off after delay
// scaled so that one minute is shutdownTicksPerMinute ticks.
func (k *kubelet) Shutdown(ctx context.Context, delay time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("host %s: shutdown: %w", k.h.name, err)
	}
	scaled := scaledShutdownDelay(delay, k.c.interval)
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.powered {
		return fmt.Errorf("host %s: shutdown: %w", k.h.name, ErrHostDown)
	}
	if k.shutdown != nil {
		k.shutdown.Stop()
	}
	k.shutdown = time.AfterFunc(scaled, func() {
		if err := k.powerOff(); err != nil {
			k.log.Warn("shutdown", "err", err)
		}
	})
	k.log.Info("shutdown scheduled", "delay", delay, "scaled", scaled)
	return nil
}

// scaledShutdownDelay is how long the simulation waits for a shutdown
// delay: one minute is shutdownTicksPerMinute ticks of interval.
func scaledShutdownDelay(delay, interval time.Duration) time.Duration {
	return time.Duration(float64(delay) / float64(time.Minute) * float64(shutdownTicksPerMinute*interval))
}

func contentHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// containerID is a stable CRI-O style container ID (64 hex digits; crictl
// shows the first 13).
func containerID(node, ctr, hash string, n int) string {
	return contentHash([]byte(fmt.Sprintf("%s/%s/%s/%d", node, ctr, hash, n)))
}
