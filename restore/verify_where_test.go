package restore

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// remoteView is a host whose files are not local to this process (as an
// SSH or debug-pod host): every read goes through the host interface.
func remoteView(h host.Host) host.Host {
	return hosttest.Wrap(h, hosttest.Funcs{LocalPath: func(host.Host, string) (string, bool) { return "", false }})
}

// copyDir copies the regular files of src, and its directories, into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			copyDir(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, e.Name()), string(b))
	}
}

// nonEtcdSnapshot writes a bolt database without etcd's buckets, with a
// correct sha256 trailer: the hash passes, only a database check finds it.
func nonEtcdSnapshot(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("other"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if err := os.WriteFile(p, append(data, sum[:]...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyBackupSameWhereverItLies is fault 5 of issue 10: a backup is
// accepted or refused the same way whether it is given on this machine
// (BackupDir) or already lies on the recovery host (BackupOnHost), read
// there through the host interface.
func TestVerifyBackupSameWhereverItLies(t *testing.T) {
	cases := []struct {
		name   string
		modify func(t *testing.T, dir string)
		want   error
	}{
		{"archive of another backup", func(t *testing.T, dir string) {
			a := globOne(t, dir, "static_kuberesources_*.tar.gz")
			if err := os.Rename(a, filepath.Join(dir, backup.ResourcesFileName("2026-11-25_090000", false))); err != nil {
				t.Fatal(err)
			}
		}, backup.ErrTimestampMismatch},
		{"not an etcd database", func(t *testing.T, dir string) {
			nonEtcdSnapshot(t, globOne(t, dir, "snapshot_*.db"))
			writeManifest(t, dir, "2026-11-24_180000", "4.5.2", 0) // only the database is wrong
		}, backup.ErrCorruptDatabase},
		{"two backups", func(t *testing.T, dir string) {
			copyFile(t, globOne(t, dir, "snapshot_*.db"), filepath.Join(dir, backup.SnapshotFileName("2026-11-25_090000", false)))
			copyFile(t, globOne(t, dir, "static_kuberesources_*.tar.gz"), filepath.Join(dir, backup.ResourcesFileName("2026-11-25_090000", false)))
		}, backup.ErrAmbiguous},
		{"root of the automated backups' folders", func(t *testing.T, dir string) {
			run := filepath.Join(dir, "backup-nightly-2026-11-24_180000")
			if err := os.Mkdir(run, 0o700); err != nil {
				t.Fatal(err)
			}
			for _, g := range []string{backup.ScriptSnapshotGlob, backup.ScriptResourcesGlob, backup.ManifestFileName} {
				p := globOne(t, dir, g)
				if err := os.Rename(p, filepath.Join(run, filepath.Base(p))); err != nil {
					t.Fatal(err)
				}
			}
		}, backup.ErrBackupRoot},
		{"manifest records another sha256", func(t *testing.T, dir string) {
			m, err := backup.ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			m.Snapshot.SHA256 = "00" + m.Snapshot.SHA256[2:]
			if err := backup.WriteManifest(dir, m); err != nil {
				t.Fatal(err)
			}
		}, backup.ErrHashMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.modify(t, f.backupDir)
			onHost := "/home/core/backup-from-elsewhere"
			copyDir(t, f.backupDir, filepath.Join(f.roots["master-0"], onHost))

			where := map[string]func(o *job){
				"BackupDir":    func(o *job) {},
				"BackupOnHost": func(o *job) { o.BackupOnHost = onHost },
				"BackupOnHost remote": func(o *job) {
					o.BackupOnHost, o.Recovery = onHost, remoteView(o.Recovery)
					// Run of a test host runs here, not in its tree.
					o.FreeSpace = func(context.Context, host.Host, string) (FreeSpace, error) {
						return FreeSpace{Bytes: 1 << 40, Filesystem: "fs"}, nil
					}
				},
			}
			for w, set := range where {
				opts := f.options("master-0")
				opts.DryRun = true
				set(&opts)
				before := f.snapshotTrees(t)
				_, err := runJob(context.Background(), opts)
				var se *plan.StepError
				if !errors.As(err, &se) || se.Step != "verify-backup" || !errors.Is(err, tc.want) {
					t.Errorf("%s: err = %v, want verify-backup to fail with %v", w, err, tc.want)
				}
				var ve *backup.VerifyError
				if err != nil && !errors.As(err, &ve) {
					t.Errorf("%s: err = %v, want a *backup.VerifyError", w, err)
				}
				if after := f.snapshotTrees(t); after != before {
					t.Errorf("%s: verification changed a host", w)
				}
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(b))
}
