package member

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPodStatusCrashLoopWindow: a crashlooping etcd pod shows Running
// between its crashes; read at that instant it is still crashlooping (the
// member crash drill once identified such a pod as healthy and refused
// procedure 2.4.2).
func TestPodStatusCrashLoopWindow(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	running := func(up time.Duration, last *corev1.ContainerStateTerminated) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "etcd", RestartCount: 4,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now.Add(-up))}},
			LastTerminationState: corev1.ContainerState{Terminated: last},
		}}}}
	}
	crashed := &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}
	clean := &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}
	waiting := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "etcd", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
	}}}}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		window time.Duration
		want   bool
		status string
	}{
		{"running between crashes", running(30*time.Second, crashed), crashLoopWindow, true, "Running (container etcd up 30s after exit code 2)"},
		{"running just under the window", running(crashLoopWindow-time.Second, crashed), crashLoopWindow, true, "Running (container etcd up"},
		{"running past the window", running(crashLoopWindow+time.Second, crashed), crashLoopWindow, false, "Running"},
		{"restarted after a clean exit", running(30*time.Second, clean), crashLoopWindow, false, "Running"},
		{"never exited", running(30*time.Second, nil), crashLoopWindow, false, "Running"},
		{"instant view (window 0)", running(30*time.Second, crashed), 0, false, "Running"},
		{"waiting in back-off", waiting, crashLoopWindow, true, "CrashLoopBackOff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, crashing, _ := podStatus(tc.pod, now, tc.window)
			if crashing != tc.want || !strings.HasPrefix(status, tc.status) {
				t.Errorf("podStatus = %q, crashlooping %v; want %q…, %v", status, crashing, tc.status, tc.want)
			}
		})
	}
}
