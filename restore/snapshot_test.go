package restore

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lifeboat-dev/lifeboat/internal/mounttest"
)

func TestRestoreSnapshotBumpsAndCompacts(t *testing.T) {
	snap, rev := makeSnapshot(t, 20)
	ctx := context.Background()
	pu := freeURL(t)
	peer := pu.String()
	dataDir := filepath.Join(t.TempDir(), "var", "lib", "etcd")
	if err := os.MkdirAll(dataDir, 0o700); err != nil { // an empty target is fine
		t.Fatal(err)
	}
	revFile := filepath.Join(t.TempDir(), "revision.json")
	if err := os.WriteFile(revFile, []byte(`{"clusterId":"0","raftIndex":{"https://10.0.0.1:2379":5000},"maxRaftIndex":5000,"created":""}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := RestoreSnapshot(ctx, snap, dataDir, SnapshotOptions{
		Writer: etcdutlWriter,
		Name:   "master-0", PeerURL: peer, RevisionFile: revFile,
		ClusterVersion: "4.5.2", BackupVersion: "v4.5.2", ClusterEtcdVersion: libraryEtcdVersion(),
	})
	if err != nil {
		t.Fatalf("RestoreSnapshot: %v", err)
	}
	ci, err := snapshotConsistentIndex(context.Background(), snap)
	if err != nil || ci == 0 {
		t.Fatalf("consistent index %d, %v", ci, err)
	}
	wantBump := revisionBumpFor(5000, ci)
	if res.Snapshot.Revision != rev || res.RevisionBump != wantBump || res.NewRevision != rev+int64(wantBump) {
		t.Fatalf("result revision %d bump %d new %d; want %d, %d, %d", res.Snapshot.Revision, res.RevisionBump, res.NewRevision, rev, wantBump, rev+int64(wantBump))
	}
	if !res.Snapshot.HasHash || res.Snapshot.StorageVersion == "" {
		t.Errorf("snapshot info %+v: want a hash and a storage version", res.Snapshot)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "member", "wal")); err != nil {
		t.Fatalf("restored data dir lacks member/wal: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(dataDir), ".etcd.restore-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}

	// The restored directory starts as a single member with the data, the
	// bumped revision, and everything before it compacted.
	te := startEmbed(t, dataDir, "master-0", peer)
	members, err := te.client.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(members.Members) != 1 || members.Members[0].Name != "master-0" || members.Members[0].PeerURLs[0] != peer {
		t.Fatalf("members = %v, want the single member master-0 at %s", members.Members, peer)
	}
	got, err := te.client.Get(ctx, "/registry/test/7")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "value-7" {
		t.Fatalf("restored key = %v", got.Kvs)
	}
	if got.Header.Revision != res.NewRevision {
		t.Errorf("header revision %d, want %d", got.Header.Revision, res.NewRevision)
	}
	_, err = te.client.Get(ctx, "/registry/test/7", clientv3.WithRev(rev))
	if !errors.Is(err, rpctypes.ErrCompacted) {
		t.Errorf("read at the old revision %d: err %v, want compacted", rev, err)
	}
	// A watch from an old revision is cancelled as compacted.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wr := <-te.client.Watch(wctx, "/registry/", clientv3.WithPrefix(), clientv3.WithRev(rev-5))
	if wr.CompactRevision == 0 {
		t.Errorf("watch from revision %d: %+v, want a compacted response", rev-5, wr)
	}
}

func TestRestoreSnapshotRefusals(t *testing.T) {
	snap, _ := makeSnapshot(t, 5)
	data, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, b []byte) string {
		p := filepath.Join(t.TempDir(), "snapshot_x.db")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := append([]byte(nil), data...)
	corrupt[len(corrupt)/2] ^= 0xff
	cases := []struct {
		name     string
		snapshot func(t *testing.T) string
		target   func(t *testing.T, dir string)
		opts     SnapshotOptions
		want     error
		wantType any
		noWriter bool
	}{
		{name: "non-empty target", snapshot: func(t *testing.T) string { return snap },
			target: func(t *testing.T, dir string) {
				os.MkdirAll(filepath.Join(dir, "member"), 0o700)
				os.WriteFile(filepath.Join(dir, "member", "keep"), []byte("old"), 0o600)
			},
			want: ErrTargetNotEmpty, wantType: new(*TargetNotEmptyError)},
		{name: "target is a file", snapshot: func(t *testing.T) string { return snap },
			target: func(t *testing.T, dir string) {
				os.RemoveAll(dir)
				os.WriteFile(dir, []byte("file"), 0o600)
			},
			want: ErrTargetNotEmpty},
		{name: "corrupt snapshot", snapshot: func(t *testing.T) string { return write(t, corrupt) },
			want: backup.ErrHashMismatch, wantType: new(*backup.SnapshotError)},
		{name: "truncated snapshot", snapshot: func(t *testing.T) string { return write(t, data[:len(data)-1000]) },
			want: backup.ErrTruncated, wantType: new(*backup.SnapshotError)},
		{name: "snapshot without trailer", snapshot: func(t *testing.T) string { return write(t, data[:len(data)-32]) },
			want: backup.ErrNoHash},
		{name: "tiny file", snapshot: func(t *testing.T) string { return write(t, []byte("not a db")) },
			want: backup.ErrTruncated},
		{name: "other z-stream", snapshot: func(t *testing.T) string { return snap },
			opts: SnapshotOptions{ClusterVersion: "4.5.2", BackupVersion: "4.5.3"},
			want: ErrVersionMismatch, wantType: new(*VersionMismatchError)},
		{name: "pre-3.6 snapshot needs the restore pod", snapshot: func(t *testing.T) string { return withoutStorageVersion(t, data) },
			want: ErrNeedsRestorePod, wantType: new(*NeedsRestorePodError)},
		{name: "older cluster etcd needs the restore pod", snapshot: func(t *testing.T) string { return withoutStorageVersion(t, data) },
			opts: SnapshotOptions{ClusterEtcdVersion: "3.5.9"},
			want: ErrNeedsRestorePod, wantType: new(*NeedsRestorePodError)},
		{name: "snapshot newer than cluster etcd", snapshot: func(t *testing.T) string { return snap },
			opts: SnapshotOptions{ClusterEtcdVersion: "3.5.9"},
			want: ErrSnapshotTooNew},
		{name: "missing member name", snapshot: func(t *testing.T) string { return snap },
			opts: SnapshotOptions{Name: "-"},
			want: lifeboat.ErrInvalidOptions},
		{name: "missing writer", snapshot: func(t *testing.T) string { return snap },
			noWriter: true, want: lifeboat.ErrInvalidOptions},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dataDir := filepath.Join(root, "etcd")
			os.MkdirAll(dataDir, 0o700)
			if tc.target != nil {
				tc.target(t, dataDir)
			}
			before := listTree(t, root)
			opts := tc.opts
			if opts.Name == "" {
				opts.Name = "master-0"
			} else if opts.Name == "-" {
				opts.Name = ""
			}
			opts.PeerURL = "https://10.0.0.1:2380"
			if !tc.noWriter {
				opts.Writer = etcdutlWriter
			}
			_, err := RestoreSnapshot(context.Background(), tc.snapshot(t), dataDir, opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.wantType != nil && !errors.As(err, tc.wantType) {
				t.Fatalf("err %T does not match %T", err, tc.wantType)
			}
			if after := listTree(t, root); after != before {
				t.Fatalf("refusal changed the target:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestRestoreSnapshotVersionOverride(t *testing.T) {
	snap, _ := makeSnapshot(t, 3)
	dir := filepath.Join(t.TempDir(), "etcd")
	res, err := RestoreSnapshot(context.Background(), snap, dir, SnapshotOptions{
		Writer: etcdutlWriter,
		Name:   "m", PeerURL: "https://10.0.0.1:2380", ClusterVersion: "4.5.2", BackupVersion: "4.5.3",
		AllowVersionMismatch: true, NoRevisionBump: true,
	})
	if err != nil {
		t.Fatalf("override refused: %v", err)
	}
	if res.RevisionBump != 0 || res.NewRevision != res.Snapshot.Revision {
		t.Errorf("NoRevisionBump bumped: %+v", res)
	}
	if !strings.HasPrefix(res.ClusterToken, "openshift-etcd-") {
		t.Errorf("token %q", res.ClusterToken)
	}
}

// withoutStorageVersion rewrites a snapshot as etcd before 3.6 would have
// saved it: no storage version in the meta bucket, a fresh sha256 trailer.
func withoutStorageVersion(t *testing.T, snapshot []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "snapshot_old.db")
	if err := os.WriteFile(p, snapshot[:len(snapshot)-sha256.Size], 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Delete([]byte("storageVersion")) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if err := os.WriteFile(p, append(b, sum[:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func listTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		r, _ := filepath.Rel(root, p)
		b.WriteString(r + ":" + fi.Mode().String() + ";")
		return nil
	})
	return b.String()
}

// TestRestoreSnapshotIntoMountPoint restores into a data directory that is
// its own filesystem, as /var/lib/etcd on its own disk: an empty tmpfs, and
// a fresh ext4 that holds lost+found (left in place). Other content on such
// a mount is still refused and left as it was.
func TestRestoreSnapshotIntoMountPoint(t *testing.T) {
	snap, rev := makeSnapshot(t, 5)
	cases := []struct {
		name    string
		kind    mounttest.Kind
		prepare func(t *testing.T, dir string)
		want    error
	}{
		{name: "empty tmpfs", kind: mounttest.Tmpfs},
		{name: "fresh ext4 with lost+found", kind: mounttest.Ext4},
		{name: "ext4 with an old member", kind: mounttest.Ext4, want: ErrTargetNotEmpty,
			prepare: func(t *testing.T, dir string) {
				if err := os.MkdirAll(filepath.Join(dir, "member", "snap"), 0o700); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "tmpfs with a file named lost+found", kind: mounttest.Tmpfs, want: ErrTargetNotEmpty,
			prepare: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "lost+found"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := mounttest.Mount(t, tc.kind)
			if tc.prepare != nil {
				tc.prepare(t, dataDir)
			}
			before := listTree(t, dataDir)
			peer := freeURL(t)
			res, err := RestoreSnapshot(context.Background(), snap, dataDir, SnapshotOptions{
				Writer: etcdutlWriter,
				Name:   "master-0", PeerURL: peer.String(), NoRevisionBump: true,
			})
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if after := listTree(t, dataDir); after != before {
					t.Fatalf("refusal changed the mount:\nbefore %s\nafter  %s", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("RestoreSnapshot into the mount point %s: %v", dataDir, err)
			}
			names, _ := readNames(dataDir)
			want := []string{"member"}
			if tc.kind == mounttest.Ext4 {
				want = []string{"lost+found", "member"}
			}
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Errorf("mount holds %v, want %v", names, want)
			}
			te := startEmbed(t, dataDir, "master-0", peer.String())
			got, err := te.client.Get(context.Background(), "/registry/test/3")
			if err != nil || len(got.Kvs) != 1 || got.Header.Revision != rev || res.NewRevision != rev {
				t.Fatalf("restored member: %v, %v; revision %d, want %d", got, err, got.Header.Revision, rev)
			}
		})
	}
}
