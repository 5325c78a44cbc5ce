package restore

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// flipped returns b with a run of bytes inverted: the same size, other
// content.
func flipped(b []byte) []byte {
	c := bytes.Clone(b)
	for i := len(c) / 4; i < len(c)/4+512 && i < len(c); i++ {
		c[i] ^= 0xff
	}
	return c
}

// TestCopyBackupReplacesStaleFileOfSameSize: a file of the backup's name
// and size but other content already in RemoteBackupDir (another backup
// taken the same second, a half-edited copy) is not taken for the
// backup: it is moved aside and the backup copied.
func TestCopyBackupReplacesStaleFileOfSameSize(t *testing.T) {
	f := newFixture(t)
	opts := patient(f.options("master-0"))
	src := globOne(t, f.backupDir, "snapshot_*.db")
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(f.roots["master-0"], defaultRemoteBackupDir, filepath.Base(src))
	writeFile(t, remote, string(flipped(orig)))
	if _, err := runJob(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(remote)
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("the copy on the recovery host is not the backup's snapshot (err %v)", err)
	}
	kept, _ := filepath.Glob(filepath.Join(f.roots["master-0"], defaultAsideDir, "stale", filepath.Base(src)+"*"))
	if len(kept) != 1 {
		t.Fatalf("the stale file was not kept aside: %v", kept)
	}
}

// TestPlanClusterRestorePodGetsThisRunsRevisionJSON: the cluster's own
// restore pod sizes its bump, floor(1.2 × maxRaftIndex), from
// /var/lib/etcd-backup/revision.json. The staged file must be this run's
// (one left there by an earlier restore gives way, kept aside), scaled so
// that the pod's bump is at least revisionBumpFor(maxRaftIndex, snapshot
// consistent index), or Options.RevisionBump when set; the original
// revision.json is kept aside unchanged.
func TestPlanClusterRestorePodGetsThisRunsRevisionJSON(t *testing.T) {
	cases := []struct {
		name         string
		staleInDir   bool   // a revision.json of an earlier restore in /var/lib/etcd-backup
		revisionBump uint64 // Options.RevisionBump
	}{
		{name: "earlier restore's revision.json in the backup dir", staleInDir: true},
		{name: "no revision.json in the backup dir"},
		{name: "explicit revision bump", revisionBump: 3_000_000_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts := patient(f.options("master-1"))
			opts.ForceRestorePod = true
			opts.RevisionBump = tc.revisionBump
			r := f.roots["master-1"]
			writeFile(t, filepath.Join(r, clusterRestorePodPath), etcdPodYAML("master-1", f.peers["master-1"], 9))
			if tc.staleInDir {
				writeFile(t, filepath.Join(r, defaultEtcdBackupDir, "revision.json"), `{"maxRaftIndex":1}`)
			}
			d, err := runJob(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(r, defaultEtcdBackupDir, "revision.json"))
			if err != nil {
				t.Fatal(err)
			}
			var staged struct {
				MaxRaftIndex uint64 `json:"maxRaftIndex"`
				OrigMax      uint64 `json:"lifeboatOriginalMaxRaftIndex"`
				OrigPath     string `json:"lifeboatOriginalPath"`
			}
			if err := json.Unmarshal(got, &staged); err != nil || staged.OrigMax != 5000 {
				t.Fatalf("revision.json for the cluster's restore pod: %s (%v), want this run's (maxRaftIndex 5000) scaled", got, err)
			}
			ci, err := snapshotConsistentIndex(context.Background(), globOne(t, f.backupDir, "snapshot_*.db"))
			if err != nil || ci == 0 {
				t.Fatalf("consistent index of the backup: %d, %v", ci, err)
			}
			want := revisionBumpFor(5000, ci)
			if tc.revisionBump != 0 {
				want = tc.revisionBump
			}
			// What the pod computes: jq's floor(.maxRaftIndex * 1.2).
			if podBump := uint64(math.Floor(float64(staged.MaxRaftIndex) * 1.2)); podBump < want {
				t.Errorf("the cluster's restore pod would bump by %d (maxRaftIndex %d), want at least %d", podBump, staged.MaxRaftIndex, want)
			}
			if d.Restore.RevisionBump < want || d.Restore.NewRevision != f.snapRev+int64(d.Restore.RevisionBump) {
				t.Errorf("restore record: bump %d, new revision %d; want a bump of at least %d from %d", d.Restore.RevisionBump, d.Restore.NewRevision, want, f.snapRev)
			}
			// The original is kept, never edited.
			if b, err := os.ReadFile(filepath.Join(r, staged.OrigPath)); err != nil || string(b) != `{"maxRaftIndex":5000}` {
				t.Errorf("original revision.json at %s: %q %v", staged.OrigPath, b, err)
			}
			if tc.staleInDir {
				kept, _ := filepath.Glob(filepath.Join(r, defaultAsideDir, "stale", "revision.json*"))
				if len(kept) != 1 {
					t.Fatalf("the earlier restore's revision.json was not kept aside: %v", kept)
				} else if b, _ := os.ReadFile(kept[0]); string(b) != `{"maxRaftIndex":1}` {
					t.Errorf("kept aside: %q", b)
				}
			}
			staged2, err := os.ReadFile(filepath.Join(r, defaultEtcdBackupDir, "snapshot.db"))
			orig, _ := os.ReadFile(globOne(t, f.backupDir, "snapshot_*.db"))
			if err != nil || !bytes.Equal(staged2, orig) {
				t.Fatalf("snapshot not staged: %v", err)
			}
		})
	}
}

// TestPodRaftIndexFor: the staged maxRaftIndex makes the cluster's restore
// pod, floor(1.2 × maxRaftIndex) in floating point, bump by at least the
// wanted amount, and is the smallest that does so exactly in integers.
func TestPodRaftIndexFor(t *testing.T) {
	cases := []struct {
		name string
		bump uint64
	}{
		{name: "one", bump: 1},
		{name: "multiple of six", bump: 6_000},
		{name: "restored cluster's bump", bump: 1_000_353},
		{name: "default bump", bump: defaultRevisionBump},
		{name: "large", bump: 1 << 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := podRaftIndexFor(tc.bump)
			if pod := uint64(math.Floor(float64(m) * 1.2)); pod < tc.bump {
				t.Errorf("PodRaftIndexFor(%d) = %d: the pod bumps by %d", tc.bump, m, pod)
			}
			if m > 0 && (m-1)+(m-1)/5 >= tc.bump+1 {
				t.Errorf("PodRaftIndexFor(%d) = %d is not the smallest", tc.bump, m)
			}
		})
	}
}
