package hosttest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
)

// A master as a directory tree: its etcd static pod runs while the
// manifest is in /etc/kubernetes/manifests, and commands are refused
// unless the test carries them out.
func ExampleNewDir() {
	root, _ := os.MkdirTemp("", "master-0")
	defer os.RemoveAll(root)
	ctx := context.Background()
	m := hosttest.NewDir("master-0", root, hosttest.DirOptions{})
	m.MkdirAll(ctx, "/etc/kubernetes/manifests", 0o755)
	m.WriteFile(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", strings.NewReader("kind: Pod\n"), 0o600)

	cs, _ := m.Containers(ctx, "etcd-metrics")
	fmt.Println(cs[0].Pod, cs[0].Name, cs[0].State)

	m.MkdirAll(ctx, "/var/lib/etcd-backup", 0o700)
	m.Move(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd-backup/etcd-pod.yaml")
	cs, _ = m.Containers(ctx, "etcd")
	fmt.Println("etcd containers after the move:", len(cs))

	_, err := m.Run(ctx, nil, "crictl", "rm", "-f", "etcd")
	fmt.Println(errors.Is(err, hosttest.ErrCommandRefused))
	// Output:
	// etcd-master-0 etcd-metrics Running
	// etcd containers after the move: 0
	// true
}

// One operation fails, the others stay real: the first move of the data
// directory fails as on a full disk, and the retry goes through.
func ExampleWrap() {
	root, _ := os.MkdirTemp("", "master-0")
	defer os.RemoveAll(root)
	os.MkdirAll(filepath.Join(root, "var/lib/etcd/member"), 0o700)
	failures := 1
	h := hosttest.Wrap(hosttest.NewDir("master-0", root, hosttest.DirOptions{}), hosttest.Funcs{
		Move: func(ctx context.Context, next host.Host, src, dst string) error {
			if failures > 0 {
				failures--
				return fmt.Errorf("move %s: no space left on device", src)
			}
			return next.Move(ctx, src, dst)
		},
	})
	ctx := context.Background()
	fmt.Println(h.Move(ctx, "/var/lib/etcd", "/var/lib/etcd-old"))
	fmt.Println(h.Move(ctx, "/var/lib/etcd", "/var/lib/etcd-old"))
	_, err := h.Stat(ctx, "/var/lib/etcd-old/member")
	fmt.Println(err)
	// Output:
	// move /var/lib/etcd: no space left on device
	// <nil>
	// <nil>
}

// A host that only shuts down: any other call fails with ErrUnimplemented.
func ExampleUnimplemented() {
	var halted []string
	h := hosttest.Wrap(hosttest.Unimplemented("worker-0"), hosttest.Funcs{
		Shutdown: func(_ context.Context, next host.Host, delay time.Duration) error {
			halted = append(halted, fmt.Sprintf("%s in %s", next.Name(), delay))
			return nil
		},
	})
	ctx := context.Background()
	fmt.Println(h.Shutdown(ctx, time.Minute), halted)
	_, err := h.ReadFile(ctx, "/etc/kubernetes/kubeconfig")
	fmt.Println(errors.Is(err, hosttest.ErrUnimplemented))
	// Output:
	// <nil> [worker-0 in 1m0s]
	// true
}
