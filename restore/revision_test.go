package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestRevisionBumpFor(t *testing.T) {
	cases := []struct {
		name     string
		json     string
		ci       uint64
		want     uint64
		coverGap bool // the bump must exceed maxRaftIndex − ci
	}{
		{name: "unknown record", json: `{"maxRaftIndex":0}`, ci: 100, want: defaultRevisionBump},
		{name: "unknown consistent index", json: `{"maxRaftIndex":5000}`, ci: 0, want: defaultRevisionBump},
		{name: "record predates the snapshot", json: `{"maxRaftIndex":90}`, ci: 100, want: defaultRevisionBump},
		{name: "restore pod amount dominates on a long-lived cluster", json: `{"maxRaftIndex":50000000}`, ci: 49000000, want: 60000000, coverGap: true},
		{name: "restored before, as in the issue", json: `{"maxRaftIndex":353}`, ci: 160, want: 193 + minRevisionSlack, coverGap: true},
		{name: "old snapshot of a young cluster", json: `{"maxRaftIndex":4000000}`, ci: 10, want: 3999990 + minRevisionSlack, coverGap: true},
		{name: "max from raftIndex map", json: `{"raftIndex":{"a":10,"b":5000}}`, ci: 5000, want: minRevisionSlack, coverGap: true},
		{name: "huge index saturates", json: `{"maxRaftIndex":18446744073709551000}`, ci: 1, want: 1 << 62},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := parseRevisionJSON([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			got := revisionBumpFor(rec.MaxRaftIndex, tc.ci)
			if got != tc.want {
				t.Fatalf("bump = %d, want %d", got, tc.want)
			}
			if pod := rec.MaxRaftIndex + rec.MaxRaftIndex/5; got < pod && pod < 1<<62 {
				t.Fatalf("bump %d is below the restore pod's floor(1.2 × %d) = %d", got, rec.MaxRaftIndex, pod)
			}
			if tc.coverGap && got <= rec.MaxRaftIndex-tc.ci {
				t.Fatalf("bump %d does not exceed the %d entries after the snapshot", got, rec.MaxRaftIndex-tc.ci)
			}
		})
	}
	if _, err := parseRevisionJSON([]byte("{")); err == nil {
		t.Error("bad JSON accepted")
	}
}

// TestRestoreSnapshotBumpHistories restores, on real etcd, a snapshot of a
// cluster that was never restored and one of a cluster that had been
// restored before (bump 1e9, so its revisions are far ahead of its raft
// index). In both the cluster runs on after the snapshot, revision.json is
// recorded the way the cluster's "rev" sidecar does, and a few more writes
// follow it (the file is stale by then). After the restore the first write
// must get a revision above every revision a client saw, and a watch from a
// revision of the lost cluster must be told it was compacted.
func TestRestoreSnapshotBumpHistories(t *testing.T) {
	const afterSnapshot, afterRecord = 200, 100
	cases := []struct {
		name     string
		restored bool
	}{
		{name: "never restored"},
		{name: "restored once with bump 1e9", restored: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			var src *testEtcd
			if tc.restored {
				first, _ := makeSnapshot(t, 20)
				dir := filepath.Join(root, "first")
				peer := freeURL(t)
				if _, err := RestoreSnapshot(ctx, first, dir, SnapshotOptions{Writer: etcdutlWriter, Name: "m0", PeerURL: peer.String(), RevisionBump: defaultRevisionBump}); err != nil {
					t.Fatal(err)
				}
				src = startEmbed(t, dir, "m0", peer.String())
			} else {
				src = startEmbed(t, filepath.Join(root, "first"), "m0", "")
			}
			putN(t, src.client, "before", 150)
			snap, snapRev := saveSnapshot(t, src.client, filepath.Join(root, "snapshot_2026-11-30_100000.db"))
			putN(t, src.client, "after", afterSnapshot)
			revJSON := filepath.Join(root, "revision.json")
			writeRevisionJSON(t, src.client, revJSON)
			maxSeen := putN(t, src.client, "stale", afterRecord)
			rec := readRevisionJSON(t, revJSON)
			t.Logf("snapshot revision %d, revision.json maxRaftIndex %d, clients saw up to revision %d", snapRev, rec.MaxRaftIndex, maxSeen)
			if tc.restored && uint64(snapRev) < 10*rec.MaxRaftIndex {
				t.Fatalf("the history is not the shape under test: revision %d, raft index %d", snapRev, rec.MaxRaftIndex)
			}
			peer := src.peer
			src.stop()

			dataDir := filepath.Join(root, "etcd")
			res, err := RestoreSnapshot(ctx, snap, dataDir, SnapshotOptions{Writer: etcdutlWriter, Name: "m0", PeerURL: peer, RevisionFile: revJSON})
			if err != nil {
				t.Fatal(err)
			}
			if pod := rec.MaxRaftIndex + rec.MaxRaftIndex/5; res.RevisionBump < pod {
				t.Errorf("bump %d below the restore pod's %d", res.RevisionBump, pod)
			}
			te := startEmbed(t, dataDir, "m0", peer)
			put, err := te.client.Put(ctx, "/registry/test/new", "v")
			if err != nil {
				t.Fatal(err)
			}
			if put.Header.Revision <= maxSeen {
				t.Errorf("first write after the restore got revision %d, clients had already seen %d (bump %d)", put.Header.Revision, maxSeen, res.RevisionBump)
			}
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			wr, ok := <-te.client.Watch(wctx, "/registry/", clientv3.WithPrefix(), clientv3.WithRev(maxSeen-10))
			if !ok || !errors.Is(wr.Err(), rpctypes.ErrCompacted) {
				t.Errorf("watch from revision %d of the lost cluster: %v (events %d), want ErrCompacted", maxSeen-10, wr.Err(), len(wr.Events))
			}
		})
	}
}

// putN writes n keys under prefix one by one and returns the revision of the
// last write.
func putN(t *testing.T, c *clientv3.Client, prefix string, n int) int64 {
	t.Helper()
	var rev int64
	for i := range n {
		r, err := c.Put(context.Background(), fmt.Sprintf("/registry/%s/%d", prefix, i), "v")
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}
	return rev
}

// writeRevisionJSON records revision.json as the cluster's "rev" sidecar
// does: the raft index of each endpoint's Status, their maximum, the
// cluster ID and the time.
func writeRevisionJSON(t *testing.T, c *clientv3.Client, path string) {
	t.Helper()
	rec := struct {
		ClusterID    uint64            `json:"clusterId,omitempty"`
		RaftIndex    map[string]uint64 `json:"raftIndex,omitempty"`
		MaxRaftIndex uint64            `json:"maxRaftIndex,omitempty"`
		Created      string            `json:"created,omitempty"`
	}{RaftIndex: map[string]uint64{}, Created: time.Now().UTC().String()}
	for _, ep := range c.Endpoints() {
		st, err := c.Status(context.Background(), ep)
		if err != nil {
			t.Fatal(err)
		}
		rec.RaftIndex[ep] = st.RaftIndex
		rec.MaxRaftIndex = max(rec.MaxRaftIndex, st.RaftIndex)
		rec.ClusterID = st.Header.ClusterId
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readRevisionJSON(t *testing.T, path string) revisionRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := parseRevisionJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
