package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
)

// checkSignerRefusal moves the simulated kubelet signer's expiry to ten
// days from now and asks for a 30-day shutdown: refused with the date in
// the error, no node cordoned, every host still on. It puts the expiry a
// year out again and returns it.
func checkSignerRefusal(ctx context.Context, t *testing.T, c *clustertest.Cluster, hosts lifecycle.HostFunc, dir string) time.Time {
	t.Helper()
	soon := time.Now().Add(10 * 24 * time.Hour).UTC().Truncate(time.Second)
	setSignerExpiry(ctx, t, c.Kube, soon)
	_, err := shutdownPlan(ctx, t, lifecycle.Deps{Kube: c.Kube, Hosts: hosts}, lifecycle.ShutdownOptions{
		BackupDir: dir, PlannedDuration: 30 * 24 * time.Hour, DrainWorkers: true,
	})
	var se *lifecycle.SignerExpiryError
	if !errors.Is(err, lifecycle.ErrSignerExpiresBeforeRestart) || !errors.As(err, &se) || !strings.Contains(err.Error(), soon.Format(time.RFC3339)) {
		t.Fatalf("30-day shutdown with the signer expiring %s: err = %v", soon, err)
	}
	list, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list.Items {
		if n.Spec.Unschedulable || !c.Host(n.Name).Powered() {
			t.Errorf("%s touched by a refused shutdown (unschedulable %v)", n.Name, n.Spec.Unschedulable)
		}
	}
	later := time.Now().Add(365 * 24 * time.Hour).UTC().Truncate(time.Second)
	setSignerExpiry(ctx, t, c.Kube, later)
	return later
}

func setSignerExpiry(ctx context.Context, t *testing.T, kube kubernetes.Interface, at time.Time) {
	t.Helper()
	patch := []byte(`{"metadata":{"annotations":{"` + lifecycle.CertificateNotAfterAnnotation + `":"` + at.Format(time.RFC3339) + `"}}}`)
	if _, err := kube.CoreV1().Secrets(lifecycle.KubeletSignerNamespace).Patch(ctx, lifecycle.KubeletSignerSecret, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// noDial hides a host's DialContext.
func noDial(h host.Host) host.Host { return hosttest.Wrap(h, hosttest.Funcs{NoDialer: true}) }

// checkRecoveryFallback: with the external endpoint unreachable,
// ReachableConfig skips a master it cannot dial from and answers through
// the next master's localhost-recovery kubeconfig; with no way left it
// lists every attempt.
func checkRecoveryFallback(ctx context.Context, t *testing.T, c *clustertest.Cluster) {
	t.Helper()
	dead := rest.CopyConfig(c.RESTConfig)
	dead.Host = "https://127.0.0.1:1"
	m := c.Masters()
	cfg, endpoint, err := lifecycle.ReachableConfig(ctx, dead, []host.Host{noDial(c.Host(m[0])), c.Host(m[1])}, lifecycle.ReachableOptions{ProbeTimeout: 5 * time.Second})
	if err != nil || endpoint != "localhost-recovery on "+m[1] {
		t.Fatalf("ReachableConfig = %q, %v", endpoint, err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) == 0 {
		t.Fatalf("listing nodes through the recovery kubeconfig: %v", err)
	}
	_, _, err = lifecycle.ReachableConfig(ctx, dead, []host.Host{noDial(c.Host(m[0]))}, lifecycle.ReachableOptions{ProbeTimeout: 5 * time.Second})
	var ue *lifecycle.UnreachableError
	if !errors.Is(err, lifecycle.ErrAPIUnreachable) || !errors.As(err, &ue) || len(ue.Attempts) != 2 || !errors.Is(err, lifecycle.ErrAPIUnreachable) {
		t.Fatalf("ReachableConfig with no route = %v", err)
	}
	if !strings.Contains(ue.Attempts[1], lifecycle.ErrHostCannotDial.Error()) {
		t.Errorf("attempts %q", ue.Attempts)
	}
}

// seedWorkerPods puts an unmanaged pod and a DaemonSet's pod on worker
// (the simulation runs no scheduler or DaemonSet controller) and returns
// their names.
func seedWorkerPods(ctx context.Context, t *testing.T, c *clustertest.Cluster, worker string) (app, daemon string) {
	t.Helper()
	ns := "default"
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "node-agent", Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "node-agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "node-agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent"}}},
			},
		},
	}
	ds, err := c.Kube.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	yes := true
	pods := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}},
		{ObjectMeta: metav1.ObjectMeta{Name: "node-agent-x", Namespace: ns, Labels: map[string]string{"app": "node-agent"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: ds.Name, UID: ds.UID, Controller: &yes}}}},
	}
	for _, p := range pods {
		p.Spec = corev1.PodSpec{NodeName: worker, TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{Name: "c", Image: "img"}}}
		if _, err := c.Kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return "app", "node-agent-x"
}

// checkDrained: the unmanaged pod was evicted from the worker, the
// DaemonSet's pod left, as "oc adm drain --ignore-daemonsets --force" does.
func checkDrained(ctx context.Context, t *testing.T, c *clustertest.Cluster, res *lifecycle.ShutdownResult, app, daemon string) {
	t.Helper()
	for _, n := range res.Nodes {
		if n.Master == n.Drained || n.DrainErr != nil {
			t.Errorf("%s: drained %v err %v", n.Node, n.Drained, n.DrainErr)
		}
	}
	p, err := c.Kube.CoreV1().Pods("default").Get(ctx, app, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) && (err != nil || p.DeletionTimestamp == nil) {
		t.Errorf("pod %s after the drain: %v", app, err)
	}
	if _, err := c.Kube.CoreV1().Pods("default").Get(ctx, daemon, metav1.GetOptions{}); err != nil {
		t.Errorf("DaemonSet pod %s after the drain: %v", daemon, err)
	}
}
