package clustertest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/mounttest"
)

// TestMoveAsideEtcdDataAcrossMount moves a stale member directory aside
// on a host whose /var/lib/etcd is its own filesystem (a real tmpfs or
// ext4 mount), as the simulated operator's installer does before a member
// joins: a plain rename fails there with EXDEV. A second call, with
// nothing left, is a no-op.
func TestMoveAsideEtcdDataAcrossMount(t *testing.T) {
	for _, kind := range []mounttest.Kind{mounttest.Tmpfs, mounttest.Ext4} {
		t.Run(string(kind), func(t *testing.T) {
			root := t.TempDir()
			data := filepath.Join(root, "var/lib/etcd")
			if err := os.MkdirAll(data, 0o700); err != nil {
				t.Fatal(err)
			}
			mounttest.MountAt(t, kind, data)
			if err := os.MkdirAll(filepath.Join(data, "member/snap"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(data, "member/snap/db"), []byte("stale"), 0o600); err != nil {
				t.Fatal(err)
			}
			h := &Host{name: "master-0", root: root, local: host.NewLocal("master-0", root, host.LocalOptions{})}
			ctx := context.Background()
			for call := 1; call <= 2; call++ {
				if err := moveAsideEtcdData(ctx, h); err != nil {
					t.Fatalf("call %d: %v", call, err)
				}
			}
			if _, err := os.Stat(filepath.Join(data, "member")); !os.IsNotExist(err) {
				t.Errorf("member directory still in /var/lib/etcd: %v", err)
			}
			moved, _ := filepath.Glob(filepath.Join(root, "var/lib/etcd-backup/member-*/snap/db"))
			if len(moved) != 1 {
				t.Fatalf("moved aside: %v, want one member-<time>", moved)
			}
			if b, _ := os.ReadFile(moved[0]); string(b) != "stale" {
				t.Errorf("moved data holds %q", b)
			}
		})
	}
}
