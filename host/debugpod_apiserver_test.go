package host_test

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host/debugpod"
)

// actAsKubelet marks every lifeboat debug pod in ns Running, which is what
// the node's kubelet would do: clustertest runs no kubelet for ordinary
// pods. It returns the pods as they were first seen, before their status
// was touched.
func actAsKubelet(ctx context.Context, kube kubernetes.Interface, ns string, seen chan<- *corev1.Pod) {
	marked := map[string]bool{}
	wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=lifeboat"})
		if err != nil {
			return false, nil
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if marked[p.Name] {
				continue
			}
			seen <- p.DeepCopy()
			p.Status.Phase = corev1.PodRunning
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{
				Name:  p.Spec.Containers[0].Name,
				Image: p.Spec.Containers[0].Image,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
			}}
			if _, err := kube.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err == nil {
				marked[p.Name] = true
			}
		}
		return false, nil
	})
}

// TestDebugPodOnAPIServer creates the debug pod of a master against a real
// kube-apiserver (clustertest), so the pod passes real validation and
// defaulting. No kubelet runs it: the test sets it Running itself, and the
// exec path is not exercised (see the package documentation).
func TestDebugPodOnAPIServer(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Masters: 1, Workers: -1})
	node := c.Masters()[0]
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	t.Run("starts", func(t *testing.T) {
		seen := make(chan *corev1.Pod, 10)
		kctx, stop := context.WithCancel(ctx)
		defer stop()
		go actAsKubelet(kctx, c.Kube, "default", seen)

		d, err := debugpod.New(ctx, c.Kube, c.RESTConfig, debugpod.Config{Node: node, PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ns, name := d.Pod()
		first := <-seen
		if first.Name != name || first.Namespace != ns {
			t.Fatalf("kubelet saw %s/%s, host uses %s/%s", first.Namespace, first.Name, ns, name)
		}
		if first.Status.Phase != corev1.PodPending && first.Status.Phase != "" {
			t.Errorf("a new pod is %s", first.Status.Phase)
		}
		pod, err := c.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		checkDebugPod(t, pod, node, debugpod.DefaultImage)
		if err := d.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("pod after Close: %v", err)
		}
	})

	t.Run("never runs", func(t *testing.T) {
		_, err := debugpod.New(ctx, c.Kube, c.RESTConfig, debugpod.Config{
			Node: node, Namespace: "kube-system", StartTimeout: time.Second, PollInterval: 50 * time.Millisecond,
		})
		if !errors.Is(err, debugpod.ErrNotRunning) {
			t.Fatalf("debugpod.New = %v, want debugpod.ErrNotRunning", err)
		}
		pods, err := c.Kube.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=lifeboat"})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) != 0 {
			t.Errorf("%d debug pods left behind", len(pods.Items))
		}
	})

	t.Run("unknown node", func(t *testing.T) {
		_, err := debugpod.New(ctx, c.Kube, c.RESTConfig, debugpod.Config{Node: "no-such-node"})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("debugpod.New = %v, want NotFound", err)
		}
	})
}
