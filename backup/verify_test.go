package backup

import (
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host/hosttest"
)

// takeFake takes a backup of a fake cluster into dir at stamp time t.
func takeFake(t *testing.T, dir string, at time.Time, snap []byte) *Backup {
	t.Helper()
	root := t.TempDir()
	masterTree(t, root)
	cfg := configFakeHealthy(t)
	b, _, err := takeRun(t.Context(), TakeDeps{Etcd: newFakeEtcd(snap), Host: hosttest.NewDir("master-0", root, hosttest.DirOptions{}), Config: cfg}, dir, TakeOptions{
		Now:       func() time.Time { return at },
		FreeSpace: plentyOfSpace,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rewrite(t *testing.T, path string, f func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, f(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	db := makeBoltDB(t, 120)
	good := withTrailer(db)
	const stamp = "2020-03-18_220218"
	snapPath := func(dir string) string { return filepath.Join(dir, SnapshotFileName(stamp, false)) }
	archPath := func(dir string) string { return filepath.Join(dir, ResourcesFileName(stamp, false)) }
	tests := []struct {
		name     string
		mutate   func(t *testing.T, dir string)
		opts     VerifyOptions
		wantErrs []error
		revision int64
		// wantWarning is a part of a warning the result must carry.
		wantWarning string
	}{
		{name: "whole", revision: 42},
		{name: "flipped snapshot byte", mutate: func(t *testing.T, dir string) {
			rewrite(t, snapPath(dir), func(b []byte) []byte { b[5000] ^= 1; return b })
		}, wantErrs: []error{ErrHashMismatch}},
		{name: "snapshot without sha256", mutate: func(t *testing.T, dir string) {
			rewrite(t, snapPath(dir), func(b []byte) []byte { return b[:len(b)-32] })
			os.Remove(filepath.Join(dir, ManifestFileName))
		}, wantErrs: []error{ErrNoHash}},
		{name: "truncated snapshot", mutate: func(t *testing.T, dir string) {
			rewrite(t, snapPath(dir), func(b []byte) []byte { return b[:len(b)-100] })
		}, wantErrs: []error{ErrTruncated, ErrHashMismatch}},
		{name: "corrupt database with a valid trailer", mutate: func(t *testing.T, dir string) {
			rewrite(t, snapPath(dir), func(b []byte) []byte {
				d := b[:len(b)-32]
				for pg := 2; pg*4096 < len(d); pg++ {
					d[pg*4096+8] = 0xff // page flags: no such page type
				}
				sum := sha256.Sum256(d)
				return append(d, sum[:]...)
			})
			os.Remove(filepath.Join(dir, ManifestFileName))
		}, wantErrs: []error{ErrCorruptDatabase}},
		{name: "archive missing", mutate: func(t *testing.T, dir string) { os.Remove(archPath(dir)) }, wantErrs: []error{ErrMissingFile}},
		{name: "snapshot missing", mutate: func(t *testing.T, dir string) { os.Remove(snapPath(dir)) }, wantErrs: []error{ErrMissingFile}},
		{name: "timestamps differ", mutate: func(t *testing.T, dir string) {
			os.Rename(archPath(dir), filepath.Join(dir, ResourcesFileName("2020-03-18_220219", false)))
		}, wantErrs: []error{ErrTimestampMismatch}},
		{name: "archive truncated", mutate: func(t *testing.T, dir string) {
			rewrite(t, archPath(dir), func(b []byte) []byte { return b[:len(b)/2] })
		}, wantErrs: []error{ErrBadArchive, ErrHashMismatch}},
		{name: "archive lacks a component", mutate: func(t *testing.T, dir string) {
			src := t.TempDir()
			masterTree(t, src)
			os.Remove(archPath(dir))
			cmd := exec.Command("tar", "-czf", archPath(dir), "-C", filepath.Join(src, "etc/kubernetes"),
				"static-pod-resources/kube-apiserver-pod-3", "static-pod-resources/etcd-pod-3")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Skipf("tar: %v %s", err, out)
			}
			os.Remove(filepath.Join(dir, ManifestFileName))
		}, wantErrs: []error{ErrBadArchive}},
		{name: "manifest malformed", mutate: func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ManifestFileName), []byte("{"), 0o600)
		}, wantErrs: []error{ErrBadManifest}},
		{name: "manifest checksum differs", mutate: func(t *testing.T, dir string) {
			m, _ := ReadManifest(dir)
			m.Resources.SHA256 = "00"
			WriteManifest(dir, m)
		}, wantErrs: []error{ErrHashMismatch}},
		{name: "no manifest: revision from the database", mutate: func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ManifestFileName))
		}, revision: 120},
		{name: "two backups", mutate: func(t *testing.T, dir string) {
			takeFake(t, dir, testNow.Add(time.Hour), good)
		}, wantErrs: []error{ErrAmbiguous}},
		{name: "two backups, one chosen", mutate: func(t *testing.T, dir string) {
			takeFake(t, dir, testNow.Add(time.Hour), good)
		}, opts: VerifyOptions{Timestamp: stamp}, revision: 120, wantWarning: "cluster-restore.sh would take the newest backup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			takeFake(t, dir, testNow, good)
			if tc.mutate != nil {
				tc.mutate(t, dir)
			}
			b, err := Verify(t.Context(), dir, tc.opts)
			if len(tc.wantErrs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if b.Timestamp != stamp || b.Revision != tc.revision || b.EtcdVersion == "" {
					t.Errorf("backup %+v", b)
				}
				if tc.wantWarning != "" && !strings.Contains(strings.Join(b.Warnings, "\n"), tc.wantWarning) {
					t.Errorf("warnings %q, want one saying %q", b.Warnings, tc.wantWarning)
				}
				return
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *VerifyError", err)
			}
			for _, want := range tc.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want it to wrap %v", err, want)
				}
			}
		})
	}
}
