package host

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/mounttest"
)

// mountHost makes the host under test for a tree at root and returns it
// with the host path that names the tree's path p ("/var/lib/etcd").
type mountHost func(t *testing.T, root string) (h Host, at func(p string) string)

// TestLocalMoveAcrossMounts moves with host.Local on a host whose
// /var/lib/etcd is its own filesystem; see testMoveAcrossMounts.
func TestLocalMoveAcrossMounts(t *testing.T) {
	testMoveAcrossMounts(t, func(t *testing.T, root string) (Host, func(string) string) {
		return NewLocal("master-0", root, LocalOptions{}), func(p string) string { return p }
	})
}

// TestShellMoveAcrossMounts moves with the shell commands of the SSH and
// debug-pod hosts (run by the local sh) on a real mount; see
// testMoveAcrossMounts. mv alone fails there with EBUSY on the mount point.
func TestShellMoveAcrossMounts(t *testing.T) {
	testMoveAcrossMounts(t, func(t *testing.T, root string) (Host, func(string) string) {
		h := &shellHost{name: "master-0", t: execTransport{}.runLine, log: slog.New(slog.DiscardHandler)}
		return h, func(p string) string { return filepath.Join(root, p) }
	})
}

// testMoveAcrossMounts moves on a host whose /var/lib/etcd is its own
// filesystem (a real tmpfs or ext4 mount): the data directory's content to
// /var/lib/etcd-backup (a rename across the mount, EXDEV), and the mount
// point itself aside (rename refuses with EBUSY). Both must end with the
// data at the destination, the mount point in place (with lost+found on
// ext4), and a second Move must count as already done.
func testMoveAcrossMounts(t *testing.T, newHost mountHost) {
	cases := []struct {
		name     string
		kind     mounttest.Kind
		src, dst string
		// left is what stays at src: the mount point keeps lost+found.
		left []string
	}{
		{name: "content of a tmpfs data dir to the root filesystem", kind: mounttest.Tmpfs,
			src: "/var/lib/etcd/member", dst: "/var/lib/etcd-backup/member"},
		{name: "tmpfs mount point aside", kind: mounttest.Tmpfs,
			src: "/var/lib/etcd", dst: "/var/lib/lifeboat/aside/etcd", left: []string{}},
		{name: "ext4 mount point aside", kind: mounttest.Ext4,
			src: "/var/lib/etcd", dst: "/var/lib/lifeboat/aside/etcd", left: []string{"lost+found"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			data := filepath.Join(root, "var/lib/etcd")
			if err := os.MkdirAll(data, 0o700); err != nil {
				t.Fatal(err)
			}
			mounttest.MountAt(t, tc.kind, data)
			tree(t, root, "var/lib/etcd/member/snap/db", "var/lib/etcd/member/wal/0.wal", "var/lib/etcd/revision.json",
				"var/lib/etcd/.hidden", "var/lib/etcd-backup/", "var/lib/lifeboat/aside/")
			h, at := newHost(t, root)
			ctx := context.Background()
			if err := h.Move(ctx, at(tc.src), at(tc.dst)); err != nil {
				t.Fatalf("Move %s %s: %v", tc.src, tc.dst, err)
			}
			dst := filepath.Join(root, tc.dst)
			for _, f := range []string{"member/snap/db", "member/wal/0.wal"} {
				rel, _ := filepath.Rel(filepath.Join(root, tc.src), filepath.Join(data, f))
				if got := readString(t, filepath.Join(dst, rel)); got != "var/lib/etcd/"+f {
					t.Errorf("%s at the destination holds %q", f, got)
				}
			}
			src := filepath.Join(root, tc.src)
			if tc.left == nil {
				if _, err := os.Lstat(src); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("source still exists: %v", err)
				}
			} else {
				if got := readString(t, filepath.Join(dst, ".hidden")); got != "var/lib/etcd/.hidden" {
					t.Errorf(".hidden at the destination holds %q", got)
				}
				if _, err := os.Lstat(filepath.Join(dst, "lost+found")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("lost+found was copied to the destination: %v", err)
				}
				ents, err := os.ReadDir(src)
				if err != nil {
					t.Fatalf("the mount point is gone: %v", err)
				}
				var names []string
				for _, e := range ents {
					names = append(names, e.Name())
				}
				if !slices.Equal(names, tc.left) && !(len(names) == 0 && len(tc.left) == 0) {
					t.Errorf("the mount point holds %v, want %v", names, tc.left)
				}
				if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dst), ".*lifeboat-*")); len(leftovers) > 0 {
					t.Errorf("staging left behind: %v", leftovers)
				}
			}
			if err := h.Move(ctx, at(tc.src), at(tc.dst)); err != nil {
				t.Errorf("second Move: %v, want already moved", err)
			}
			if tc.left != nil {
				// Something new in the emptied mount point: a real conflict.
				tree(t, root, "var/lib/etcd/member/new")
				if err := h.Move(ctx, at(tc.src), at(tc.dst)); !errors.Is(err, fs.ErrExist) {
					t.Errorf("Move with new content at the mount point = %v, want fs.ErrExist", err)
				}
			}
		})
	}
}
