// Package mounttest mounts real filesystems for tests that must see a
// second filesystem: a tmpfs, or an ext4 image on a loop device (which
// holds lost+found, as a fresh disk does). It needs root; where mounting is
// impossible the test is skipped with the reason, unless the environment
// sets LIFEBOAT_REQUIRE_MOUNT=1 (CI does), when it fails instead.
package mounttest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv makes an impossible mount fail the test instead of skipping it.
const RequireEnv = "LIFEBOAT_REQUIRE_MOUNT"

// Kind is the filesystem to mount.
type Kind string

const (
	Tmpfs Kind = "tmpfs"
	Ext4  Kind = "ext4" // a 256 MiB sparse image on a loop device
)

// Mount mounts a fresh filesystem of kind on a new directory and returns
// it; the cleanup unmounts it (lazily when something keeps it busy).
func Mount(t testing.TB, kind Kind) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	MountAt(t, kind, dir)
	return dir
}

// MountAt mounts a fresh filesystem of kind on the existing directory dir,
// unmounted at cleanup.
func MountAt(t testing.TB, kind Kind, dir string) {
	t.Helper()
	var args []string
	switch kind {
	case Tmpfs:
		args = []string{"-t", "tmpfs", "-o", "size=256m,mode=0755", "tmpfs", dir}
	case Ext4:
		img := filepath.Join(t.TempDir(), "fs.img")
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, 256<<20); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
			unavailable(t, "mkfs.ext4: %v: %s", err, out)
		}
		args = []string{"-o", "loop", img, dir}
	default:
		t.Fatalf("mounttest: unknown kind %q", kind)
	}
	if os.Geteuid() != 0 {
		unavailable(t, "mounting a %s needs root", kind)
	}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		unavailable(t, "mount %s: %v: %s", strings.Join(args, " "), err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s; detaching lazily", dir, err, out)
			exec.Command("umount", "-l", dir).Run()
		}
	})
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("cannot mount and "+RequireEnv+"=1: "+format, args...)
	}
	t.Skipf("skipping: cannot mount a filesystem here ("+format+"); set "+RequireEnv+"=1 to fail instead", args...)
}
