package realnode_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/clustertest/realnode"
)

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts realnode.Options
		ok   bool
	}{
		{"zero value", realnode.Options{}, true},
		{"explicit", realnode.Options{Name: "node-a.example", NodeIP: "10.254.254.9", StartTimeout: time.Minute}, true},
		{"upper-case name", realnode.Options{Name: "Node"}, false},
		{"name too long", realnode.Options{Name: "a123456789012345678901234567890123456789012345678901234567890123"}, false},
		{"loopback IP", realnode.Options{NodeIP: "127.0.0.2"}, false},
		{"IPv6", realnode.Options{NodeIP: "fd00::1"}, false},
		{"not an IP", realnode.Options{NodeIP: "node"}, false},
		{"negative timeout", realnode.Options{StartTimeout: -time.Second}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tc.ok && !errors.Is(err, lifeboat.ErrInvalidOptions) {
				t.Fatalf("Validate = %v, want lifeboat.ErrInvalidOptions", err)
			}
		})
	}
}

// TestNewRefusesInvalidOptions: nothing happens to the machine (not even
// the lock is taken) for options out of range.
func TestNewRefusesInvalidOptions(t *testing.T) {
	_, err := realnode.New(t.Context(), nil, realnode.Options{NodeIP: "127.0.0.1"})
	if !errors.Is(err, lifeboat.ErrInvalidOptions) {
		t.Fatalf("New = %v, want lifeboat.ErrInvalidOptions", err)
	}
}

// startCluster starts a one-master cluster and a real node beside it,
// skipping first when the machine cannot run the node.
func startCluster(t *testing.T) (*clustertest.Cluster, *realnode.Node) {
	t.Helper()
	b := realnode.SkipUnavailable(t)
	c := clustertest.Start(t, clustertest.Options{Masters: 1})
	return c, realnode.Start(t, c, realnode.Options{Binaries: &b})
}

// TestStaticPodLifecycle: a manifest in the manifest directory becomes a
// running container and a mirror pod; moved away, both go. Close leaves
// the machine as it was (checked by Close itself and again here).
func TestStaticPodLifecycle(t *testing.T) {
	before, err := realnode.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	c, n := startCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	pod := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "sleeper", Namespace: "default"},
		Spec: corev1.PodSpec{
			HostNetwork: true,
			Containers: []corev1.Container{{
				Name: "sleeper", Image: realnode.DebugImage, ImagePullPolicy: corev1.PullNever,
				Command: []string{"/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"},
			}},
		},
	}
	b, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(n.ManifestDir(), "sleeper.yaml")
	if err := os.WriteFile(manifest, b, 0o644); err != nil {
		t.Fatal(err)
	}
	mirror := "sleeper-" + n.Name()
	waitFor(ctx, t, "mirror pod Running", func(ctx context.Context) (bool, error) {
		p, err := c.Kube.CoreV1().Pods("default").Get(ctx, mirror, metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning, nil
	})
	if got := runningNamed(ctx, t, n, "sleeper"); got != 1 {
		t.Fatalf("crictl ps --name sleeper: %d running, want 1", got)
	}
	if err := os.Rename(manifest, filepath.Join(n.Root(), "sleeper.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "container gone", func(ctx context.Context) (bool, error) {
		return runningNamed(ctx, t, n, "sleeper") == 0, nil
	})
	waitFor(ctx, t, "mirror pod gone", func(ctx context.Context) (bool, error) {
		_, err := c.Kube.CoreV1().Pods("default").Get(ctx, mirror, metav1.GetOptions{})
		return err != nil, nil
	})

	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	after, err := realnode.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if d := before.Diff(after); len(d) > 0 {
		t.Fatalf("the machine is not as it was:\n%v", d)
	}
}

func runningNamed(ctx context.Context, t *testing.T, n *realnode.Node, name string) int {
	t.Helper()
	out, err := n.Crictl(ctx, "ps", "--name", name, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var ps struct {
		Containers []struct {
			State string `json:"state"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(out, &ps); err != nil {
		t.Fatalf("crictl ps: %v: %s", err, out)
	}
	running := 0
	for _, c := range ps.Containers {
		if c.State == "CONTAINER_RUNNING" {
			running++
		}
	}
	return running
}

func waitFor(ctx context.Context, t *testing.T, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
