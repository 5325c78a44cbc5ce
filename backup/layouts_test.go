package backup

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// etcdctlSnapshot saves a snapshot of a real one-member etcd holding a few
// keys with etcdctl, as cluster-backup.sh does, and returns its path and
// the revision it holds.
func etcdctlSnapshot(t *testing.T) (string, int64) {
	t.Helper()
	bin, err := clustertest.FindBinaries()
	if err != nil {
		t.Skipf("etcd binaries missing (run hack/tools.sh): %v", err)
	}
	c := clustertest.StartEtcd(t, clustertest.EtcdOptions{Members: 1})
	cli, err := c.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	rev := fillEtcd(t, cli, "/registry/configmaps/", 50, 256)
	p := filepath.Join(t.TempDir(), "etcdctl-out.db")
	tls := c.ClientTLS()
	out, err := exec.Command(bin.Etcdctl, "--endpoints", c.Members[0].ClientURL,
		"--cacert", tls.CAFile, "--cert", tls.CertFile, "--key", tls.KeyFile,
		"snapshot", "save", p).CombinedOutput()
	if err != nil {
		t.Fatalf("etcdctl snapshot save: %v\n%s", err, out)
	}
	return p, rev
}

// scriptResourceDirs are the directories, relative to /etc/kubernetes,
// that cluster-backup.sh archives for masterTree: the revision (3) each
// component's manifest runs.
var scriptResourceDirs = []string{
	"static-pod-resources/kube-apiserver-pod-3",
	"static-pod-resources/kube-controller-manager-pod-3",
	"static-pod-resources/kube-scheduler-pod-3",
	"static-pod-resources/etcd-pod-3",
}

// scriptArchive builds dst as cluster-backup.sh does: GNU tar, gzipped,
// names relative to /etc/kubernetes, directory entries included, mode 0600.
func scriptArchive(t *testing.T, etcKubernetes, dst string) {
	t.Helper()
	args := append([]string{"-cpzf", dst, "-C", etcKubernetes}, scriptResourceDirs...)
	if out, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
		t.Skipf("tar: %v %s", err, out)
	}
	if err := os.Chmod(dst, 0o600); err != nil {
		t.Fatal(err)
	}
}

// operatorArchive builds dst as the operator's own backup writer does
// (EtcdBackup jobs from 4.15, etcd-backup-server): a Go tar of the regular
// files only, names relative to /etc/kubernetes, no directory entries.
func operatorArchive(t *testing.T, etcKubernetes, dst string) {
	t.Helper()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	for _, d := range scriptResourceDirs {
		err := filepath.WalkDir(filepath.Join(etcKubernetes, d), func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.Type().IsRegular() {
				return err
			}
			fi, err := e.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(etcKubernetes, p)
			if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Size: fi.Size(), Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()}); err != nil {
				return err
			}
			body, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			_, err = tw.Write(body)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyClusterLayouts is item 3 of issue 14: Verify accepts the
// directories every release's cluster-backup.sh and the cluster's
// automated backups write, with a real etcd snapshot and archives built
// as they build them, and refuses, before reading further, directories
// where lifeboat and cluster-restore.sh could take different files.
func TestVerifyClusterLayouts(t *testing.T) {
	snap, rev := etcdctlSnapshot(t)
	master := t.TempDir()
	masterTree(t, master)
	etcK := filepath.Join(master, "etc/kubernetes")
	const (
		stamp       = "2026-11-30_020000"
		folderStamp = "2026-11-30_015959" // requested by the operator a second earlier
	)
	// pair writes a snapshot and an archive built by build into dir.
	pair := func(t *testing.T, dir, stamp string, dirty bool, build func(*testing.T, string, string)) {
		t.Helper()
		copyTo(t, snap, filepath.Join(dir, SnapshotFileName(stamp, dirty)))
		build(t, etcK, filepath.Join(dir, ResourcesFileName(stamp, dirty)))
	}
	tests := []struct {
		name string
		// lay out the backup under root; returns the directory to verify.
		layout    func(t *testing.T, root string) string
		wantDirty bool
		wantErrs  []error
		wantNamed []string // in the error
	}{
		{name: "cluster-backup.sh 4.4-4.5", layout: func(t *testing.T, root string) string {
			pair(t, root, stamp, false, scriptArchive)
			return root
		}},
		{name: "cluster-backup.sh --force 4.6+", wantDirty: true, layout: func(t *testing.T, root string) string {
			pair(t, root, stamp, true, scriptArchive)
			return root
		}},
		{name: "EtcdBackup 4.14: cluster-backup.sh --force in backup-<name>-<stamp>", wantDirty: true, layout: func(t *testing.T, root string) string {
			dir := filepath.Join(root, "backup-nightly-29012345-"+folderStamp)
			pair(t, dir, stamp, true, scriptArchive)
			return dir
		}},
		{name: "EtcdBackup 4.15+: the operator's writer in backup-<name>-<stamp>", layout: func(t *testing.T, root string) string {
			dir := filepath.Join(root, "backup-on-demand.v2-"+folderStamp)
			pair(t, dir, stamp, false, operatorArchive)
			return dir
		}},
		{name: "etcd-backup-server 4.18+: <stamp> folder", layout: func(t *testing.T, root string) string {
			dir := filepath.Join(root, folderStamp)
			pair(t, dir, stamp, false, operatorArchive)
			return dir
		}},
		{name: "PVC root holding runs", wantErrs: []error{ErrBackupRoot, ErrMissingFile},
			wantNamed: []string{"backup-nightly-2026-11-29_020000", "backup-nightly-2026-11-30_020000"},
			layout: func(t *testing.T, root string) string {
				pair(t, filepath.Join(root, "backup-nightly-2026-11-29_020000"), "2026-11-29_020001", false, operatorArchive)
				pair(t, filepath.Join(root, "backup-nightly-2026-11-30_020000"), "2026-11-30_020001", false, operatorArchive)
				return root
			}},
		{name: "forced snapshot beside an unforced archive", wantErrs: []error{ErrTimestampMismatch},
			wantNamed: []string{SnapshotFileName(stamp, true), ResourcesFileName(stamp, false)},
			layout: func(t *testing.T, root string) string {
				copyTo(t, snap, filepath.Join(root, SnapshotFileName(stamp, true)))
				scriptArchive(t, etcK, filepath.Join(root, ResourcesFileName(stamp, false)))
				return root
			}},
		{name: "etcdctl's snapshot.db beside the pair", wantErrs: []error{ErrAmbiguous}, wantNamed: []string{"snapshot.db"},
			layout: func(t *testing.T, root string) string {
				pair(t, root, stamp, false, scriptArchive)
				copyTo(t, snap, filepath.Join(root, "snapshot.db"))
				return root
			}},
		{name: "a renamed archive copy beside the pair", wantErrs: []error{ErrAmbiguous}, wantNamed: []string{"static_kuberesources_old.tar.gz"},
			layout: func(t *testing.T, root string) string {
				pair(t, root, stamp, true, scriptArchive)
				copyTo(t, filepath.Join(root, ResourcesFileName(stamp, true)), filepath.Join(root, "static_kuberesources_old.tar.gz"))
				return root
			}},
		{name: "a link to another snapshot beside the pair", wantErrs: []error{ErrAmbiguous}, wantNamed: []string{"snapshot_latest.db"},
			layout: func(t *testing.T, root string) string {
				pair(t, root, stamp, false, scriptArchive)
				if err := os.Symlink(snap, filepath.Join(root, "snapshot_latest.db")); err != nil {
					t.Fatal(err)
				}
				return root
			}},
		{name: "snapshot without its archive", wantErrs: []error{ErrMissingFile},
			layout: func(t *testing.T, root string) string {
				copyTo(t, snap, filepath.Join(root, SnapshotFileName(stamp, true)))
				return root
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.layout(t, t.TempDir())
			b, err := Verify(t.Context(), dir, VerifyOptions{})
			if len(tc.wantErrs) > 0 {
				var ve *VerifyError
				if !errors.As(err, &ve) {
					t.Fatalf("err = %v, want a *VerifyError", err)
				}
				for _, want := range tc.wantErrs {
					if !errors.Is(err, want) {
						t.Errorf("err = %v, want it to wrap %v", err, want)
					}
				}
				for _, n := range tc.wantNamed {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("err = %v, want it to name %s", err, n)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Timestamp != stamp || b.Revision != rev || b.PossiblyDirty != tc.wantDirty || b.Manifest != nil {
				t.Errorf("backup: stamp %s revision %d dirty %v manifest %v; want %s, %d, %v, none",
					b.Timestamp, b.Revision, b.PossiblyDirty, b.Manifest, stamp, rev, tc.wantDirty)
			}
			if b.Snapshot.Path != filepath.Join(dir, SnapshotFileName(stamp, tc.wantDirty)) || len(b.ResourceDirs) != len(Components()) {
				t.Errorf("snapshot %s, resource dirs %v", b.Snapshot.Path, b.ResourceDirs)
			}
			if got := slices.Contains(b.Warnings, PossiblyDirtyWarning); got != tc.wantDirty {
				t.Errorf("warnings %q: possibly-dirty warning %v, want %v", b.Warnings, got, tc.wantDirty)
			}
		})
	}
}
