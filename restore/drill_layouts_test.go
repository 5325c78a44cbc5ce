package restore_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestDrillClusterBackupLayouts is item 3 of issue 14 on the simulated
// cluster: the restore runs from backups laid out as the cluster itself
// writes them, with no backup.json, each found the way an administrator
// finds it: on an EtcdBackup's PVC (backup.LatestFolder, then BackupDir)
// or in a master's /var/lib/etcd-auto-backup (backup.LatestFolderOn the
// recovery host, then BackupOnHost). The restore path reads the names
// backup.VerifyOn chose, so it needed no change; this drill keeps it so.
func TestDrillClusterBackupLayouts(t *testing.T) {
	if testing.Short() {
		t.Skip("the drill starts a whole simulated cluster")
	}
	tests := []struct {
		name string
		// relayout turns lifeboat's backup (of stamp, in d.backupDir) into
		// the cluster's layout, finds it with LatestFolder(On) as an
		// administrator would, and points opts at it.
		relayout  func(t *testing.T, d *drill, stamp string, opts *job)
		wantDirty bool
	}{
		{name: "EtcdBackup on 4.14: cluster-backup.sh --force in backup-<name>-<stamp> on the PVC", wantDirty: true,
			relayout: func(t *testing.T, d *drill, stamp string, opts *job) {
				root := t.TempDir()
				dir := filepath.Join(root, "backup-nightly-29012345-2026-11-30_020000")
				moveAs(t, filepath.Join(d.backupDir, backup.SnapshotFileName(stamp, false)), filepath.Join(dir, backup.SnapshotFileName(stamp, true)))
				moveAs(t, filepath.Join(d.backupDir, backup.ResourcesFileName(stamp, false)), filepath.Join(dir, backup.ResourcesFileName(stamp, true)))
				// An older run of the same schedule (each run's EtcdBackup is
				// named after its job), whose job died before writing anything.
				if err := os.MkdirAll(filepath.Join(root, "backup-nightly-29012344-2026-11-29_020000"), 0o700); err != nil {
					t.Fatal(err)
				}
				f, err := backup.LatestFolder(t.Context(), root, backup.FolderOptions{})
				if err != nil || f.Path != dir {
					t.Fatalf("LatestFolder = %+v, %v; want %s", f, err, dir)
				}
				opts.BackupDir = f.Path
			}},
		{name: "default Backup on 4.18+: etcd-backup-server's <stamp> folder on the recovery master, the operator's archive",
			relayout: func(t *testing.T, d *drill, stamp string, opts *job) {
				h := d.c.Host(d.recovery)
				dir := backup.AutomatedBackupHostDir + "/2026-11-30_020000"
				for _, p := range []string{dir, backup.AutomatedBackupHostDir + "/2026-11-29_020000"} {
					if err := h.MkdirAll(t.Context(), p, 0o700); err != nil {
						t.Fatal(err)
					}
				}
				snap, err := os.Open(filepath.Join(d.backupDir, backup.SnapshotFileName(stamp, false)))
				if err != nil {
					t.Fatal(err)
				}
				defer snap.Close()
				if err := h.WriteFile(t.Context(), dir+"/"+backup.SnapshotFileName(stamp, false), snap, 0o600); err != nil {
					t.Fatal(err)
				}
				arch := regularFilesOnly(t, filepath.Join(d.backupDir, backup.ResourcesFileName(stamp, false)))
				if err := h.WriteFile(t.Context(), dir+"/"+backup.ResourcesFileName(stamp, false), bytes.NewReader(arch), 0o600); err != nil {
					t.Fatal(err)
				}
				f, err := backup.LatestFolderOn(t.Context(), h, backup.AutomatedBackupHostDir, backup.FolderOptions{})
				if err != nil || f.Path != dir {
					t.Fatalf("LatestFolderOn = %+v, %v; want %s", f, err, dir)
				}
				opts.BackupDir, opts.BackupOnHost = "", f.Path
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := startDrill(t, false)
			b, err := backup.Verify(t.Context(), d.backupDir, backup.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			opts := d.options(t)
			tc.relayout(t, d, b.Timestamp, &opts)
			var mu sync.Mutex
			var messages []string
			report := opts.Report
			opts.Report = func(e plan.Event) {
				report(e)
				mu.Lock()
				messages = append(messages, e.Message)
				mu.Unlock()
			}
			state, err := runRestore(t.Context(), opts)
			if err != nil {
				d.c.LogTails(t, 40)
				t.Fatalf("restore: %v", err)
			}
			if state.Backup == nil || state.Backup.Snapshot != backup.SnapshotFileName(b.Timestamp, tc.wantDirty) || state.Backup.ClusterVersion != "" {
				t.Errorf("restored backup %+v, want %s without a manifest", state.Backup, backup.SnapshotFileName(b.Timestamp, tc.wantDirty))
			}
			mu.Lock()
			warned := strings.Contains(strings.Join(messages, "\n"), backup.PossiblyDirtyWarning)
			mu.Unlock()
			if warned != tc.wantDirty {
				t.Errorf("possibly-dirty warning reported: %v, want %v", warned, tc.wantDirty)
			}
			d.check(t)
		})
	}
}

// regularFilesOnly rewrites the archive p as the operator's Go writer
// lays one out: its regular files only, no directory entries.
func regularFilesOnly(t *testing.T, p string) []byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	files := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		files++
		if err := tw.WriteHeader(&tar.Header{Name: hdr.Name, Size: hdr.Size, Mode: hdr.Mode & 0o777, ModTime: hdr.ModTime}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	if files == 0 {
		t.Fatal("the archive has no regular file")
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// moveAs renames src to dst, creating dst's directory.
func moveAs(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, dst); err != nil {
		t.Fatal(err)
	}
}
