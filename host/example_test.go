package host_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
)

// Runbook 2.4.2 step 1 on a host tree: move the etcd pod manifest out of
// the kubelet's manifest directory and the data directory aside. Running it
// a second time changes nothing: the moves are already done.
func ExampleLocal() {
	root, err := os.MkdirTemp("", "master-0")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	for _, p := range []string{"etc/kubernetes/manifests/etcd-pod.yaml", "var/lib/etcd/member/snap/db", "tmp/.keep"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(root, p), []byte("data"), 0o600)
	}

	ctx := context.Background()
	h := host.NewLocal("master-0", root, host.LocalOptions{})
	for range 2 {
		// sh-4.2# mkdir /var/lib/etcd-backup
		if err := h.MkdirAll(ctx, "/var/lib/etcd-backup", 0o700); err != nil {
			log.Fatal(err)
		}
		// sh-4.2# mv /etc/kubernetes/manifests/etcd-pod.yaml /var/lib/etcd-backup/
		if err := h.Move(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd-backup/etcd-pod.yaml"); err != nil {
			log.Fatal(err)
		}
		// sh-4.2# mv /var/lib/etcd/ /tmp
		if err := h.Move(ctx, "/var/lib/etcd", "/tmp/etcd"); err != nil {
			log.Fatal(err)
		}
	}

	for _, dir := range []string{"/etc/kubernetes/manifests", "/var/lib", "/var/lib/etcd-backup", "/tmp"} {
		entries, err := h.ReadDir(ctx, dir)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(dir, ":")
		for _, e := range entries {
			if e.IsDir() {
				fmt.Print(" ", e.Name, "/")
			} else {
				fmt.Print(" ", e.Name)
			}
		}
		fmt.Println()
	}
	// Output:
	// /etc/kubernetes/manifests:
	// /var/lib: etcd-backup/
	// /var/lib/etcd-backup: etcd-pod.yaml
	// /tmp: .keep etcd/
}

// Runbook 3.2 step 1 for one node, "ssh core@<node> sudo shutdown -h 1".
// (Not run: it needs a real master.)
func ExampleNewSSH() {
	ctx := context.Background()
	check, err := host.KnownHosts(filepath.Join(os.Getenv("HOME"), ".ssh", "known_hosts"))
	if err != nil {
		log.Fatal(err)
	}
	h, err := host.NewSSH(ctx, host.SSHConfig{
		Addr:            "master-0.example.com:22",
		Name:            "master-0",
		KeyFile:         filepath.Join(os.Getenv("HOME"), ".ssh", "id_ed25519"),
		HostKeyCallback: check,
	})
	if err != nil {
		log.Fatal(err) // a *host.HostKeyError when the key is not in known_hosts
	}
	defer h.Close()
	if err := h.Shutdown(ctx, time.Minute); err != nil {
		log.Fatal(err)
	}
}
