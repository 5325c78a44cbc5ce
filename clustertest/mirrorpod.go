package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The kubelet's mirror pod of the etcd static pod: etcd-<node> in
// openshift-etcd, created from the manifest (with the kubelet's
// kubernetes.io/config.* annotations and spec.nodeName), its status written
// from the etcd process, recreated when the manifest changes and deleted
// when the manifest is gone. Written with the admin client (a real kubelet
// uses its node identity).

const (
	annoConfigMirror = "kubernetes.io/config.mirror"
	annoConfigHash   = "kubernetes.io/config.hash"
	annoConfigSource = "kubernetes.io/config.source"
	annoConfigSeen   = "kubernetes.io/config.seen"
)

// mirrorPodName is the name of node's mirror pod of a static pod named
// podName.
func mirrorPodName(podName, node string) string { return podName + "-" + node }

// desiredMirror returns the mirror pod (spec and status) the kubelet wants
// in the API, nil for none, and a key that changes whenever it does. Called
// with k.mu held.
func (k *kubelet) desiredMirror(now time.Time) (*corev1.Pod, string) {
	inst := k.etcd
	if inst == nil || inst.pod == nil {
		return nil, "absent"
	}
	pod := inst.pod.DeepCopy()
	pod.Name = mirrorPodName(inst.pod.Name, k.h.name)
	if pod.Namespace == "" {
		pod.Namespace = nsEtcd
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[annoConfigMirror] = inst.hash[:32]
	pod.Annotations[annoConfigHash] = inst.hash[:32]
	pod.Annotations[annoConfigSource] = "file"
	pod.Annotations[annoConfigSeen] = inst.created.UTC().Format(time.RFC3339Nano)
	pod.Spec.NodeName = k.h.name
	pod.Status = k.podStatus(inst, pod, now)
	b, _ := json.Marshal(pod.Status)
	return pod, inst.hash + string(b)
}

func secs(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// podStatus is the status of the etcd static pod. Called with k.mu held.
func (k *kubelet) podStatus(inst *etcdInstance, pod *corev1.Pod, now time.Time) corev1.PodStatus {
	ip := k.h.ip
	allReady := true
	var statuses []corev1.ContainerStatus
	for _, ctr := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{
			Name:    ctr.Name,
			Image:   ctr.Image,
			ImageID: ctr.Image,
		}
		if ctr.Name != "etcd" {
			cs.ContainerID = "cri-o://" + containerID(k.h.name, ctr.Name, inst.hash, 0)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: secs(inst.created)}
			cs.Ready, cs.Started = true, ptr.To(true)
			statuses = append(statuses, cs)
			continue
		}
		cs.RestartCount = inst.restarts
		if ex := inst.lastExit; ex != nil {
			cs.LastTerminationState.Terminated = terminated(ex)
		}
		switch {
		case inst.proc != nil && inst.proc.running():
			cs.ContainerID = "cri-o://" + inst.containerID
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: secs(inst.startedAt)}
			cs.Ready, cs.Started = true, ptr.To(true)
		case inst.lastExit != nil && (k.killed || inst.restarts == 0 || now.Sub(inst.lastExit.finishedAt) < inst.backoff/2):
			// Just exited (or killed and left down): Error.
			cs.ContainerID = "cri-o://" + inst.lastExit.containerID
			cs.State.Terminated = terminated(inst.lastExit)
			cs.LastTerminationState = corev1.ContainerState{}
			cs.Started = ptr.To(false)
			allReady = false
		case inst.lastExit != nil:
			cs.State.Waiting = &corev1.ContainerStateWaiting{
				Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=etcd pod=%s_%s",
					inst.backoff.Round(time.Second), pod.Name, pod.Namespace),
			}
			cs.Started = ptr.To(false)
			allReady = false
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
			cs.Started = ptr.To(false)
			allReady = false
		}
		statuses = append(statuses, cs)
	}
	ready := corev1.ConditionTrue
	if !allReady {
		ready = corev1.ConditionFalse
	}
	created := secs(inst.created)
	return corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: created},
			{Type: corev1.PodReady, Status: ready, LastTransitionTime: created},
			{Type: corev1.ContainersReady, Status: ready, LastTransitionTime: created},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: created},
		},
		HostIP:            ip,
		HostIPs:           []corev1.HostIP{{IP: ip}},
		PodIP:             ip,
		PodIPs:            []corev1.PodIP{{IP: ip}},
		StartTime:         &created,
		ContainerStatuses: statuses,
		QOSClass:          corev1.PodQOSBestEffort,
	}
}

func terminated(ex *exitRecord) *corev1.ContainerStateTerminated {
	reason := "Error"
	if ex.code == 0 {
		reason = "Completed"
	}
	return &corev1.ContainerStateTerminated{
		ExitCode:    int32(ex.code),
		Reason:      reason,
		Message:     ex.message,
		StartedAt:   secs(ex.startedAt),
		FinishedAt:  secs(ex.finishedAt),
		ContainerID: "cri-o://" + ex.containerID,
	}
}

// mirrorLoop keeps the mirror pod in line with the pod loop's state, every
// tick and whenever the pod loop changed something.
func (k *kubelet) mirrorLoop(ctx context.Context) {
	t := time.NewTicker(k.c.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-k.mirrorWake:
		}
		k.syncMirrorPod(ctx)
	}
}

// pokeMirror makes the mirror pod loop sync now.
func (k *kubelet) pokeMirror() {
	select {
	case k.mirrorWake <- struct{}{}:
	default:
	}
}

// syncMirrorPod writes the mirror pod when it changed locally, and re-reads
// it from the API every mirrorResyncTicks. Failures (the API is down during
// a restore) are retried a few ticks later.
func (k *kubelet) syncMirrorPod(ctx context.Context) {
	now := time.Now()
	k.mu.Lock()
	if !k.powered {
		k.mu.Unlock()
		return
	}
	want, key := k.desiredMirror(now)
	due := key != k.mirrorKey || now.Sub(k.mirrorAt) >= mirrorResyncTicks*k.c.interval
	if !due || now.Before(k.mirrorRetry) {
		k.mu.Unlock()
		return
	}
	k.mu.Unlock()

	err := k.writeMirror(ctx, want)

	k.mu.Lock()
	defer k.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			k.log.Debug("mirror pod sync failed", "err", err)
		}
		k.mirrorRetry = now.Add(5 * k.c.interval)
		return
	}
	k.mirrorKey, k.mirrorAt = key, now
}

func (k *kubelet) writeMirror(ctx context.Context, want *corev1.Pod) error {
	k.mu.Lock()
	kube, timeout := k.mirrorAPI, k.mirrorTimeout
	k.mu.Unlock()
	if kube == nil {
		kube = k.c.Kube
	}
	if timeout <= 0 {
		timeout = mirrorAPITimeout
	}
	if kube == nil {
		return fmt.Errorf("no API client yet")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pods := kube.CoreV1().Pods(nsEtcd)
	name := mirrorPodName(components[componentEtcd].podName, k.h.name)
	if want == nil {
		err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	}
	cur, err := pods.Get(ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err == nil && cur.Annotations[annoConfigMirror] != want.Annotations[annoConfigMirror] {
		// A new manifest: the kubelet replaces the mirror pod.
		err := pods.Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      &metav1.Preconditions{UID: &cur.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		cur = nil
	} else if err != nil {
		cur = nil
	}
	if cur == nil {
		create := want.DeepCopy()
		create.Status = corev1.PodStatus{}
		if cur, err = pods.Create(ctx, create, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	st := want.Status
	st.QOSClass = cur.Status.QOSClass
	if equality.Semantic.DeepEqual(cur.Status, st) {
		return nil
	}
	cur.Status = st
	_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}
