package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/host/debugpod"
)

// checkDebugPod checks that pod is what "oc debug node/<node>" creates:
// on the node, privileged as root, in the host's namespaces, with the
// host's root at /host, tolerating every taint, never restarted.
func checkDebugPod(t *testing.T, pod *corev1.Pod, node, image string) {
	t.Helper()
	s := pod.Spec
	if s.NodeName != node {
		t.Errorf("nodeName = %q, want %q", s.NodeName, node)
	}
	if !s.HostNetwork || !s.HostPID || !s.HostIPC {
		t.Errorf("hostNetwork, hostPID, hostIPC = %v, %v, %v; want all true", s.HostNetwork, s.HostPID, s.HostIPC)
	}
	if s.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy = %q", s.RestartPolicy)
	}
	if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds <= 0 {
		t.Errorf("activeDeadlineSeconds = %v, want a bound", s.ActiveDeadlineSeconds)
	}
	tolerateAll := false
	for _, tol := range s.Tolerations {
		if tol.Operator == corev1.TolerationOpExists && tol.Key == "" && tol.Effect == "" {
			tolerateAll = true
		}
	}
	if !tolerateAll {
		t.Errorf("tolerations = %+v, want one tolerating every taint", s.Tolerations)
	}
	var hostVolume string
	for _, v := range s.Volumes {
		if v.HostPath != nil && v.HostPath.Path == "/" {
			hostVolume = v.Name
			if v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectory {
				t.Errorf("host volume type = %v, want Directory", v.HostPath.Type)
			}
		}
	}
	if hostVolume == "" {
		t.Fatalf("no hostPath / volume in %+v", s.Volumes)
	}
	if len(s.Containers) != 1 {
		t.Fatalf("containers = %d, want 1", len(s.Containers))
	}
	c := s.Containers[0]
	if c.Name != "container-00" || c.Image != image {
		t.Errorf("container = %s %s, want %s %s", c.Name, c.Image, "container-00", image)
	}
	if !strings.Contains(strings.Join(c.Command, " "), "sleep") {
		t.Errorf("command = %q, want a sleep", c.Command)
	}
	sc := c.SecurityContext
	if sc == nil || sc.Privileged == nil || !*sc.Privileged || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("securityContext = %+v, want privileged as uid 0", sc)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.Name == hostVolume && m.MountPath == "/host" && !m.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("volumeMounts = %+v, want the host root at /host", c.VolumeMounts)
	}
}

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// fakeKube is a fake clientset holding node master-0 whose pods get a name
// from generateName (the fake does not) and the given status on creation.
func fakeKube(status corev1.PodStatus) *fake.Clientset {
	kube := fake.NewClientset(node("master-0"))
	kube.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pod := action.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			pod.Name = pod.GenerateName + "x7k2q"
		}
		pod.Status = status
		return false, nil, nil // let the tracker store it
	})
	return kube
}

var fakeRESTConfig = &rest.Config{Host: "http://127.0.0.1:1"}

func podCount(t *testing.T, kube kubernetes.Interface, ns string) int {
	t.Helper()
	pods, err := kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(pods.Items)
}

// TestDebugPodFake checks the pod debugpod.New creates and its life cycle
// with client-go's fake clientset (no kubelet: exec is not exercised).
func TestDebugPodFake(t *testing.T) {
	ctx := context.Background()
	kube := fakeKube(corev1.PodStatus{Phase: corev1.PodRunning})
	d, err := debugpod.New(ctx, kube, fakeRESTConfig, debugpod.Config{Node: "master-0", PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ns, name := d.Pod()
	if ns != "default" || !strings.HasPrefix(name, "master-0-debug-") || d.Name() != "master-0" {
		t.Errorf("pod %s/%s on host %s", ns, name, d.Name())
	}
	pod, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDebugPod(t, pod, "master-0", debugpod.DefaultImage)
	if _, ok := d.LocalPath("/etc"); ok {
		t.Error("a debug pod host claims a local path")
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod after Close: %v", err)
	}
	if err := d.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDebugPodDoesNotStart(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		status   corev1.PodStatus
		cfg      debugpod.Config
		wantErr  error
		wantText string
	}{
		{
			name:     "pod fails",
			status:   corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded"},
			wantErr:  debugpod.ErrNotRunning,
			wantText: "DeadlineExceeded",
		},
		{
			name: "image never pulled",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "container-00", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "unauthorized"}},
			}}},
			cfg:      debugpod.Config{StartTimeout: 100 * time.Millisecond},
			wantErr:  debugpod.ErrNotRunning,
			wantText: "ImagePullBackOff",
		},
		{
			name:    "context cancelled",
			ctx:     cancelled,
			status:  corev1.PodStatus{Phase: corev1.PodPending},
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fakeKube(tt.status)
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			cfg := tt.cfg
			cfg.Node, cfg.Namespace, cfg.PollInterval = "master-0", "openshift-debug", 10*time.Millisecond
			_, err := debugpod.New(ctx, kube, fakeRESTConfig, cfg)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("debugpod.New = %v, want %v mentioning %q", err, tt.wantErr, tt.wantText)
			}
			if tt.ctx == nil {
				if n := podCount(t, kube, "openshift-debug"); n != 0 {
					t.Errorf("%d pods left behind", n)
				}
			}
		})
	}
}

func TestDebugPodUnknownNode(t *testing.T) {
	kube := fake.NewClientset()
	_, err := debugpod.New(context.Background(), kube, fakeRESTConfig, debugpod.Config{Node: "master-9"})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("debugpod.New = %v, want NotFound", err)
	}
	if n := podCount(t, kube, "default"); n != 0 {
		t.Errorf("%d pods created for a missing node", n)
	}
}

// TestDebugPodObject checks the pod New creates for a node name too long
// for a generateName prefix, with a custom image and lifetime.
func TestDebugPodObject(t *testing.T) {
	ctx := context.Background()
	long := strings.Repeat("a", 60) + ".ec2.internal"
	kube := fakeKube(corev1.PodStatus{Phase: corev1.PodRunning})
	if _, err := kube.CoreV1().Nodes().Create(ctx, node(long), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := debugpod.New(ctx, kube, fakeRESTConfig, debugpod.Config{Node: long, Image: "quay.io/example/tools:1", Lifetime: 90 * time.Second, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ns, name := d.Pod()
	pod, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDebugPod(t, pod, long, "quay.io/example/tools:1")
	if len(pod.GenerateName) > 63-5 {
		t.Errorf("generateName %q too long", pod.GenerateName)
	}
	if *pod.Spec.ActiveDeadlineSeconds != 90 || pod.Spec.Containers[0].Command[2] != "sleep 90" {
		t.Errorf("lifetime: deadline %d, command %q", *pod.Spec.ActiveDeadlineSeconds, pod.Spec.Containers[0].Command)
	}
}
