package realnode

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeSleeper(n *Node) error {
	return os.WriteFile(filepath.Join(n.ManifestDir(), "sleeper.yaml"), []byte(`apiVersion: v1
kind: Pod
metadata: {name: sleeper, namespace: default}
spec:
  hostNetwork: true
  containers:
  - name: sleeper
    image: `+DebugImage+`
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
`), 0o644)
}

func waitRunning(t *testing.T, n *Node, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	for {
		out, err := n.Crictl(ctx, "ps", "--name", name, "-o", "json")
		if err == nil {
			var ps struct {
				Containers []struct{ State string } `json:"containers"`
			}
			if json.Unmarshal(out, &ps) == nil && len(ps.Containers) > 0 && ps.Containers[0].State == "CONTAINER_RUNNING" {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("container %s never ran", name)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
