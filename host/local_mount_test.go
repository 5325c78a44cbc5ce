package host

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/mounttest"
)

// TestLocalMoveAcrossMounts moves on a host whose /var/lib/etcd is its own
// filesystem (a real tmpfs or ext4 mount): the data directory's content to
// /var/lib/etcd-backup (a rename across the mount, EXDEV), and the mount
// point itself aside (rename refuses with EBUSY). Both must end with the
// data at the destination, and a second Move must count as already done.
func TestLocalMoveAcrossMounts(t *testing.T) {
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
				"var/lib/etcd-backup/", "var/lib/lifeboat/aside/")
			h := NewLocal("master-0", root, LocalOptions{})
			ctx := context.Background()
			if err := h.Move(ctx, tc.src, tc.dst); err != nil {
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
			}
			if err := h.Move(ctx, tc.src, tc.dst); err != nil {
				t.Errorf("second Move: %v, want already moved", err)
			}
		})
	}
}
