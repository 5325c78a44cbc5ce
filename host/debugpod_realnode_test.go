package host_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/clustertest/realnode"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/debugpod"
)

// TestDebugPodOnRealNode runs debugpod.Host against a real kubelet and
// containerd: the pod "oc debug node" creates, every typed operation and
// Run (the shared host suite) through API server → kubelet → containerd
// exec, and Containers through the node's real crictl. The runtime
// commands of the suite (crictl, systemctl, shutdown) are fakes first on
// the debug image's PATH: this machine has no systemd and must not shut
// down.
func TestDebugPodOnRealNode(t *testing.T) {
	b := realnode.SkipUnavailable(t)
	bin, log := host.FakeCommands(t)
	c := clustertest.Start(t, clustertest.Options{Masters: 1, Workers: -1})
	n := realnode.Start(t, c, realnode.Options{Binaries: &b, DebugImagePath: []string{bin}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	began := time.Now()
	d, err := debugpod.New(ctx, c.Kube, c.RESTConfig, debugpod.Config{
		Node: n.Name(), Image: realnode.DebugImage, PollInterval: 100 * time.Millisecond, StartTimeout: 3 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("debug pod Running after %v", time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := d.Close(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("closing the debug pod: %v", err)
		}
	})
	ns, name := d.Pod()
	pod, err := c.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDebugPod(t, pod, n.Name(), realnode.DebugImage)
	if pod.Status.Phase != corev1.PodRunning {
		t.Fatalf("debug pod is %s", pod.Status.Phase)
	}

	t.Run("in the host's namespaces and root", func(t *testing.T) {
		// What the spec asks for, as the kernel sees it: the exec'd
		// command shares this test's PID, network and IPC namespaces, and
		// its /host is this machine's root.
		for _, ns := range []string{"pid", "net", "ipc"} {
			want, err := os.Readlink("/proc/self/ns/" + ns)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Run(ctx, nil, "readlink", "/proc/self/ns/"+ns)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(got)) != want {
				t.Errorf("%s namespace = %s, want the host's %s", ns, got, want)
			}
		}
		p := filepath.Join(t.TempDir(), "written-here")
		if err := os.WriteFile(p, []byte("from the test process"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := d.ReadFile(ctx, p); err != nil || string(got) != "from the test process" {
			t.Errorf("ReadFile through chroot /host = %q, %v", got, err)
		}
		if uid, err := d.Run(ctx, nil, "id", "-u"); err != nil || strings.TrimSpace(string(uid)) != "0" {
			t.Errorf("id -u = %q, %v; want 0", uid, err)
		}
	})

	t.Run("suite", func(t *testing.T) {
		began := time.Now()
		host.RunHostSuite(t, d, t.TempDir(), log)
		t.Logf("suite took %v", time.Since(began).Round(time.Millisecond))
	})

	t.Run("Containers through the real crictl", func(t *testing.T) {
		// Without the fake, "crictl" is the real one (last on the image's
		// PATH) and CONTAINER_RUNTIME_ENDPOINT names the node's
		// containerd. The manifest is placed and moved through the debug
		// pod too.
		if err := os.Remove(filepath.Join(bin, "crictl")); err != nil {
			t.Fatal(err)
		}
		manifest := filepath.Join(n.ManifestDir(), "sleeper.yaml")
		podYAML := `apiVersion: v1
kind: Pod
metadata: {name: sleeper, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: sleeper
    image: ` + realnode.DebugImage + `
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
`
		if err := d.WriteFile(ctx, manifest, strings.NewReader(podYAML), 0o644); err != nil {
			t.Fatal(err)
		}
		waitContainers(ctx, t, d, "sleeper", 1)
		cs, err := d.Containers(ctx, "sleeper")
		if err != nil {
			t.Fatal(err)
		}
		if cs[0].Name != "sleeper" || cs[0].Pod != "sleeper-"+n.Name() || cs[0].State != "Running" || cs[0].ID == "" {
			t.Errorf("Containers = %+v", cs)
		}
		if err := d.Move(ctx, manifest, filepath.Join(n.Root(), "sleeper.yaml")); err != nil {
			t.Fatal(err)
		}
		waitContainers(ctx, t, d, "sleeper", 0)
	})
}

// waitContainers polls h.Containers(name) until want are running.
func waitContainers(ctx context.Context, t *testing.T, h host.Host, name string, want int) {
	t.Helper()
	var last []host.Container
	for {
		cs, err := h.Containers(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, c := range cs {
			if c.State == "Running" {
				running++
			}
		}
		if running == want {
			return
		}
		last = cs
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d running %q containers: %v; last %+v", want, name, ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
