package restore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/mounttest"
)

// TestPlanDataDirOnItsOwnDisk runs the plan on masters whose /var/lib/etcd
// is its own filesystem (a real ext4 mount, holding lost+found as a fresh
// disk does), with the in-process restore and with the restore pod. The
// data moves off every disk, but lost+found stays in place on each: it
// belongs to the filesystem, and the restore tolerates it.
func TestPlanDataDirOnItsOwnDisk(t *testing.T) {
	cases := []struct {
		name       string
		restorePod bool
	}{
		{name: "in process"},
		{name: "restore pod", restorePod: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for _, n := range fixtureMasters {
				data := filepath.Join(f.roots[n], "var/lib/etcd")
				hidden := filepath.Join(t.TempDir(), "hidden")
				if err := os.Rename(data, hidden); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(data, 0o700); err != nil {
					t.Fatal(err)
				}
				mounttest.MountAt(t, mounttest.Ext4, data)
				writeFile(t, filepath.Join(data, "member/snap/db"), "old data of "+n)
				writeFile(t, filepath.Join(data, "revision.json"), `{"maxRaftIndex":5000}`)
			}
			opts := f.options("master-0")
			opts.ForceRestorePod = tc.restorePod
			if _, err := runJob(context.Background(), opts); err != nil {
				t.Fatalf("Run: %v", err)
			}
			r0 := f.roots["master-0"]
			if fi, err := os.Stat(filepath.Join(r0, "var/lib/etcd/lost+found")); err != nil || !fi.IsDir() {
				t.Errorf("recovery host: lost+found left its filesystem: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(r0, "var/lib/etcd-backup/lost+found")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("recovery host: lost+found was moved to /var/lib/etcd-backup: %v", err)
			}
			if b, _ := os.ReadFile(filepath.Join(r0, "var/lib/etcd-backup/member/snap/db")); string(b) != "old data of master-0" {
				t.Errorf("recovery host: old data not kept in /var/lib/etcd-backup: %q", b)
			}
			if !tc.restorePod {
				if _, err := os.Stat(filepath.Join(r0, "var/lib/etcd/member/wal")); err != nil {
					t.Errorf("recovery data dir not restored: %v", err)
				}
			}
			for _, n := range []string{"master-1", "master-2"} {
				r := f.roots[n]
				ents, err := os.ReadDir(filepath.Join(r, "var/lib/etcd"))
				if err != nil || len(ents) != 1 || ents[0].Name() != "lost+found" {
					t.Errorf("%s: the data disk holds %v (%v), want only lost+found", n, ents, err)
				}
				if b, _ := os.ReadFile(filepath.Join(r, defaultAsideDir, "etcd/member/snap/db")); string(b) != "old data of "+n {
					t.Errorf("%s: data dir not kept aside: %q", n, b)
				}
				if _, err := os.Lstat(filepath.Join(r, defaultAsideDir, "etcd/lost+found")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s: lost+found was moved aside: %v", n, err)
				}
			}
		})
	}
}
