package restore

import (
	"bytes"
	"context"
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
	remote := filepath.Join(f.roots["master-0"], DefaultRemoteBackupDir, filepath.Base(src))
	writeFile(t, remote, string(flipped(orig)))
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(remote)
	if err != nil || !bytes.Equal(got, orig) {
		t.Fatalf("the copy on the recovery host is not the backup's snapshot (err %v)", err)
	}
	kept, _ := filepath.Glob(filepath.Join(f.roots["master-0"], DefaultAsideDir, "stale", filepath.Base(src)+"*"))
	if len(kept) != 1 {
		t.Fatalf("the stale file was not kept aside: %v", kept)
	}
}

// TestPlanClusterRestorePodGetsThisRunsRevisionJSON: the cluster's own
// restore pod sizes its bump from /var/lib/etcd-backup/revision.json; one
// left there by an earlier restore must give way to the revision.json
// this run moved out of the data directory.
func TestPlanClusterRestorePodGetsThisRunsRevisionJSON(t *testing.T) {
	f := newFixture(t)
	opts := patient(f.options("master-1"))
	opts.ForceRestorePod = true
	r := f.roots["master-1"]
	writeFile(t, filepath.Join(r, ClusterRestorePodPath), etcdPodYAML("master-1", f.peers["master-1"], 9))
	writeFile(t, filepath.Join(r, DefaultEtcdBackupDir, "revision.json"), `{"maxRaftIndex":1}`)
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(r, DefaultEtcdBackupDir, "revision.json"))
	if err != nil || string(got) != `{"maxRaftIndex":5000}` {
		t.Fatalf("revision.json for the cluster's restore pod: %q %v, want this run's", got, err)
	}
	staged, err := os.ReadFile(filepath.Join(r, DefaultEtcdBackupDir, "snapshot.db"))
	orig, _ := os.ReadFile(globOne(t, f.backupDir, "snapshot_*.db"))
	if err != nil || !bytes.Equal(staged, orig) {
		t.Fatalf("snapshot not staged: %v", err)
	}
}
