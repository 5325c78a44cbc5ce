package restore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/lifeboat-dev/lifeboat/backup"
)

// defaultRevisionBump is added to the snapshot's revision when nothing
// bounds the revisions the lost cluster handed out after the snapshot: a
// billion, what the cluster's restore pod uses without revision.json
// ("1bn would be an etcd running at 1000 writes/s for about eleven days").
const defaultRevisionBump uint64 = 1_000_000_000

// minRevisionSlack is the least number of raft entries the bump allows for
// on top of what revision.json proves. The cluster's revision writer
// ("cluster-etcd-operator rev") rewrites revision.json every 10 s, so the
// recorded index lags the last one the cluster reached by up to one poll
// interval of writes, more when it could not reach any member for a while.
// A million entries is twenty seconds at 50,000 commits/s, above what etcd
// sustains, so two missed polls are covered however busy the cluster was.
const minRevisionSlack uint64 = 1_000_000

// revisionRecord is the content of revision.json, which the "rev" sidecar
// of the cluster's etcd pods (4.16 and later) rewrites every 10 s from the
// Status of every member, as .tmp plus rename:
//
//	{"clusterId":123,"raftIndex":{"https://10.0.0.3:2379":2345},"maxRaftIndex":2345,"created":"2026-11-30 09:55:02.1 +0000 UTC"}
//
// It records raft indexes, not revisions: on a cluster that was never
// restored both counters grow together, but a restore starts the raft log
// again at 1 while the revision keeps (and bumps) the snapshot's, so the
// two can differ by any amount. The restore pod copies revision.json back
// into the new data directory, so a file from before an earlier restore can
// survive until the sidecar rewrites it.
type revisionRecord struct {
	ClusterID    any               `json:"clusterId,omitempty"`
	RaftIndex    map[string]uint64 `json:"raftIndex,omitempty"`
	MaxRaftIndex uint64            `json:"maxRaftIndex"`
	Created      string            `json:"created,omitempty"`
}

// parseRevisionJSON decodes revision.json. A record without maxRaftIndex
// takes the largest of raftIndex.
func parseRevisionJSON(b []byte) (revisionRecord, error) {
	var r revisionRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("parsing revision.json: %w", err)
	}
	for _, v := range r.RaftIndex {
		if v > r.MaxRaftIndex {
			r.MaxRaftIndex = v
		}
	}
	return r, nil
}

// revisionBumpFor sizes the revision bump from two raft indexes of the same
// cluster: maxRaftIndex, the last one the cluster is known to have reached
// (revision.json; 0 when unknown), and snapshotConsistentIndex, the index
// of the last entry applied to the snapshot (the "consistent_index" of its
// meta bucket, [snapshotConsistentIndex]; 0 when unknown). It never looks at
// revisions, whose distance to the raft index is arbitrary once a cluster
// has been restored.
//
// Each raft entry creates at most one revision, so the cluster handed out at
// most maxRaftIndex − snapshotConsistentIndex revisions after the snapshot,
// whatever its history. The bump is that gap plus a slack for entries after
// revision.json was last written (the larger of minRevisionSlack and 20% of
// maxRaftIndex), and never less than what the cluster's restore pod adds to
// the snapshot's revision, floor(1.2 × maxRaftIndex). Then the first
// revision after the restore exceeds every revision handed out after the
// snapshot.
//
// When maxRaftIndex is 0, snapshotConsistentIndex is 0, or maxRaftIndex is
// below the snapshot's index (the record predates the snapshot: stale, or
// from before an earlier restore), the gap is unknown and the bump is the
// larger of defaultRevisionBump and the restore pod's amount. The sum
// saturates instead of overflowing.
func revisionBumpFor(maxRaftIndex, snapshotConsistentIndex uint64) uint64 {
	pod := addSat(maxRaftIndex, maxRaftIndex/5)
	if maxRaftIndex == 0 || snapshotConsistentIndex == 0 || maxRaftIndex < snapshotConsistentIndex {
		return max(defaultRevisionBump, pod)
	}
	slack := max(minRevisionSlack, maxRaftIndex/5)
	return max(pod, addSat(maxRaftIndex-snapshotConsistentIndex, slack))
}

func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a && s <= 1<<62 {
		return s
	}
	return 1 << 62 // far below the int64 revision limit, still enormous
}

// snapshotConsistentIndex reads the raft index of the last entry applied to
// the snapshot at path (etcd 3.x stores it as "consistent_index", 8 bytes
// big-endian, in the meta bucket; a trailing sha256 is allowed). It returns
// 0 and no error when the snapshot has none, and an error wrapping
// backup.ErrCorruptDatabase when the database is damaged. It reads through
// lifeboat's own structure check, so no input makes it panic.
func snapshotConsistentIndex(ctx context.Context, path string) (uint64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	info := snapshotInfo{Path: path, Size: fi.Size(), HasHash: fi.Size()%512 == 32}
	if err := backup.CheckSnapshotDatabase(ctx, path, &info); err != nil {
		return 0, fmt.Errorf("reading consistent index of %s: %w", path, err)
	}
	return info.ConsistentIndex, nil
}

// podRaftIndexFor returns the smallest maxRaftIndex m for which the
// cluster's restore pod, which bumps the snapshot's revision by
// floor(1.2 × maxRaftIndex) from /var/lib/etcd-backup/revision.json
// (computed in floating point by jq), bumps by at least bump: m + m/5 ≥
// bump + 1, the extra one absorbing the rounding of 1.2 in binary. The
// result saturates as revisionBumpFor does.
func podRaftIndexFor(bump uint64) uint64 {
	target := addSat(bump, 1)
	m := target - target/6
	for m > 0 && addSat(m-1, (m-1)/5) >= target {
		m--
	}
	for addSat(m, m/5) < target && m < 1<<62 {
		m++
	}
	return m
}

// scaledRevisionJSON returns the revision.json to stage for the cluster's
// restore pod so that it bumps by at least bump: orig (a revision.json)
// with maxRaftIndex set to podRaftIndexFor(bump), every other field kept,
// and the original value and path recorded as lifeboatOriginalMaxRaftIndex
// and lifeboatOriginalPath. It also returns the pod's bump for that file,
// floor(1.2 × maxRaftIndex).
func scaledRevisionJSON(orig []byte, origPath string, bump uint64) ([]byte, uint64, error) {
	rv, err := parseRevisionJSON(orig)
	if err != nil {
		return nil, 0, err
	}
	fields := map[string]json.RawMessage{}
	if err := json.Unmarshal(orig, &fields); err != nil || fields == nil {
		return nil, 0, fmt.Errorf("parsing revision.json: not an object")
	}
	m := max(podRaftIndexFor(bump), rv.MaxRaftIndex)
	set := func(k string, v any) {
		b, _ := json.Marshal(v) // numbers and strings always marshal
		fields[k] = b
	}
	set("maxRaftIndex", m)
	set("lifeboatOriginalMaxRaftIndex", rv.MaxRaftIndex)
	set("lifeboatOriginalPath", origPath)
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, 0, err
	}
	return b, addSat(m, m/5), nil
}
