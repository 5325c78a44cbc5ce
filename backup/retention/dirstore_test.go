package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// masterRoot writes the static pod resources backup.TakePlan archives.
func masterRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, c := range backup.Components() {
		pod := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %[1]s\n  namespace: openshift-%[1]s\n  labels:\n    app: %[1]s\n    revision: \"3\"\nspec:\n  containers:\n  - name: %[1]s\n    image: quay.io/openshift/%[1]s\n", c)
		files := map[string]string{
			"etc/kubernetes/manifests/" + c + "-pod.yaml":                                       pod,
			"etc/kubernetes/static-pod-resources/" + c + "-pod-3/" + c + "-pod.yaml":            pod,
			"etc/kubernetes/static-pod-resources/" + c + "-pod-3/configmaps/config/config.yaml": "rev: 3\n",
		}
		for p, content := range files {
			full := filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// takeBackups runs backup.TakePlan against a real etcd member once per time,
// each into root/<id>, and returns the IDs.
func takeBackups(t *testing.T, root string, times []time.Time) []string {
	t.Helper()
	etcd := clustertest.StartEtcd(t, clustertest.EtcdOptions{Members: 1})
	cli, err := etcd.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	master := masterRoot(t)
	var ids []string
	for i, ts := range times {
		if _, err := cli.Put(t.Context(), fmt.Sprintf("/key/%d", i), "value"); err != nil {
			t.Fatal(err)
		}
		id := "etcd-" + backup.Timestamp(ts)
		take, err := backup.TakePlan(backup.TakeDeps{Etcd: cli, Host: hosttest.NewDir("master-0", master, hosttest.DirOptions{})}, backup.TakeOptions{
			Dir: filepath.Join(root, id),
			// No API server here: Force leaves the cluster checks out.
			Force:         true,
			Endpoint:      etcd.Endpoints()[0],
			MinClusterAge: -1,
			Now:           func() time.Time { return ts },
			FreeSpace:     func(string) (uint64, error) { return 1 << 40, nil },
		})
		if err == nil {
			err = take.Run(t.Context(), plan.RunOptions{})
		}
		if err != nil {
			t.Fatalf("backup %s: %v", id, err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestDirStoreOnTakeOutput(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 11, 30, 2, 15, 0, 0, time.UTC)
	var times []time.Time
	for d := 4; d >= 0; d-- {
		times = append(times, now.AddDate(0, 0, -d))
	}
	ids := takeBackups(t, root, times) // oldest first
	oldest, newest := ids[0], ids[4]

	// Things a backup directory also holds, none of them lifeboat's.
	mustWrite := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite("notes.txt", "not a backup")
	mustWrite("cluster-backup-sh/snapshot_2026-11-01_000000.db", "script output, no manifest")
	mustWrite(".cache/backup.json", `{"format":1}`)
	mustWrite("broken/backup.json", "{not json")
	if err := os.Symlink(filepath.Join(root, newest), filepath.Join(root, "latest")); err != nil {
		t.Fatal(err)
	}
	// ids[1] loses bytes: its manifest no longer matches, so it is not
	// verified; it is older than the newest verified and stays (no
	// DeleteUnverified).
	b1, err := backup.ReadManifest(filepath.Join(root, ids[1]))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(root, ids[1], b1.Snapshot.Name), b1.Snapshot.Size-10); err != nil {
		t.Fatal(err)
	}

	store, err := NewDirStore(root, DirStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listed, err := store.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range listed {
		got = append(got, b.ID)
		if want := b.ID != ids[1]; b.Verified != want {
			t.Errorf("%s verified %v, want %v", b.ID, b.Verified, want)
		}
		if i := slices.Index(ids, b.ID); i >= 0 && !b.Taken.Equal(times[i]) {
			t.Errorf("%s taken %v, want %v", b.ID, b.Taken, times[i])
		}
	}
	if slices.Sort(got); !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want exactly %v", got, ids)
	}

	// Keep the two newest: the two oldest verified go (ids[0], ids[2]),
	// the unverified ids[1] stays.
	rep, err := Apply(t.Context(), store, Policy{KeepLast: 2}, ApplyOptions{Options: Options{Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{oldest, ids[2]}; !slices.Equal(rep.Deleted, want) {
		t.Errorf("deleted %v, want %v", rep.Deleted, want)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{".cache", "broken", "cluster-backup-sh", ids[1], ids[3], newest, "latest", "notes.txt"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
	for _, id := range []string{ids[3], newest} {
		if err := VerifyFull(t.Context(), store.Dir(id), mustManifest(t, store.Dir(id))); err != nil {
			t.Errorf("survivor %s: %v", id, err)
		}
	}

	t.Run("delete refuses what is not a listed backup", func(t *testing.T) {
		for _, id := range []string{"", ".", "..", "../" + newest, ".cache", "notes.txt", "cluster-backup-sh", "broken", "latest", newest + "/backup.json"} {
			if err := store.Delete(t.Context(), id); !errors.Is(err, ErrNotBackup) {
				t.Errorf("Delete(%q): %v, want ErrNotBackup", id, err)
			}
		}
		if err := store.Delete(t.Context(), oldest); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete of a deleted backup: %v, want ErrNotFound", err)
		}
		if _, err := os.Stat(filepath.Join(root, newest, "backup.json")); err != nil {
			t.Errorf("the symlink's target was touched: %v", err)
		}
	})

	t.Run("VerifyFull finds a flipped byte QuickCheck cannot", func(t *testing.T) {
		m := mustManifest(t, store.Dir(ids[3]))
		p := filepath.Join(store.Dir(ids[3]), m.Snapshot.Name)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x40
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		full, err := NewDirStore(root, DirStoreOptions{Verify: VerifyFull})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			store *DirStore
			want  bool
		}{{store, true}, {full, false}} {
			bs, err := c.store.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(bs, func(b Backup) bool { return b.ID == ids[3] })
			if i < 0 || bs[i].Verified != c.want {
				t.Errorf("listed %v, want %s verified=%v", bs, ids[3], c.want)
			}
		}
	})

	t.Run("interrupted deletion is finished and never listed", func(t *testing.T) {
		// A crash between rename and removal leaves a hidden directory.
		trash := filepath.Join(root, trashPrefix+ids[3])
		if err := os.MkdirAll(trash, 0o700); err != nil {
			t.Fatal(err)
		}
		mustWrite(trashPrefix+ids[3]+"/backup.json", "left over")
		bs, err := store.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bs {
			if b.ID == trashPrefix+ids[3] {
				t.Fatal("listed a directory being deleted")
			}
		}
		if err := store.Delete(t.Context(), ids[3]); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{trash, store.Dir(ids[3])} {
			if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s remains: %v", p, err)
			}
		}
	})
}

func mustManifest(t *testing.T, dir string) *backup.Manifest {
	t.Helper()
	m, err := backup.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewDirStore(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{filepath.Join(t.TempDir(), "missing"), f} {
		if _, err := NewDirStore(root, DirStoreOptions{}); err == nil {
			t.Errorf("NewDirStore(%s): no error", root)
		}
	}
	ctx, cancel := contextCancelled(t)
	defer cancel()
	s, err := NewDirStore(t.TempDir(), DirStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.Dir("x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx); err == nil {
		t.Error("List with a cancelled context: no error")
	}
}

func contextCancelled(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx, cancel
}

// TestNewDirStoreRefusesFile: a root that is a file is fs.ErrInvalid, a
// missing one fs.ErrNotExist.
func TestNewDirStoreRefusesFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "backup.json")
	if err := os.WriteFile(file, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDirStore(file, DirStoreOptions{}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("NewDirStore(file) = %v, want fs.ErrInvalid", err)
	}
	if _, err := NewDirStore(filepath.Join(file, "missing"), DirStoreOptions{}); err == nil {
		t.Error("NewDirStore(missing) succeeded")
	}
}
