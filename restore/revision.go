package restore

import (
	"encoding/json"
	"fmt"
)

// DefaultRevisionBump is added to the snapshot's revision when nothing is
// known about the revisions the lost cluster handed out: a billion, as
// etcd's own recovery guide and the cluster's restore pod use.
const DefaultRevisionBump uint64 = 1_000_000_000

// RevisionJSONPath is where the cluster's etcd pods record the last raft
// indexes they saw.
const RevisionJSONPath = "/var/lib/etcd/revision.json"

// RevisionRecord is the content of revision.json, which a sidecar of the
// cluster's etcd pods rewrites regularly:
//
//	{"clusterId":"...","raftIndex":{"https://10.0.0.3:2379":2345},"maxRaftIndex":2345,"created":"..."}
type RevisionRecord struct {
	ClusterID    any               `json:"clusterId,omitempty"`
	RaftIndex    map[string]uint64 `json:"raftIndex,omitempty"`
	MaxRaftIndex uint64            `json:"maxRaftIndex"`
	Created      string            `json:"created,omitempty"`
}

// ParseRevisionJSON decodes revision.json. A record without maxRaftIndex
// takes the largest of raftIndex.
func ParseRevisionJSON(b []byte) (RevisionRecord, error) {
	var r RevisionRecord
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

// RevisionBumpFor sizes the revision bump from the last raft index the
// cluster is known to have reached (maxRaftIndex of revision.json, 0 when
// unknown) and the snapshot's revision.
//
// Every revision etcd hands out is at most the raft index of the entry that
// made it, so after the restore the revision must exceed maxRaftIndex for
// no client to see a revision twice. The cluster's restore pod bumps by 20%
// of maxRaftIndex, which covers that only when the snapshot is recent; this
// function adds the gap between maxRaftIndex and the snapshot's revision to
// the same 20% margin, so an old snapshot is bumped far enough too. Unknown
// (0) gives DefaultRevisionBump.
func RevisionBumpFor(maxRaftIndex uint64, snapshotRevision int64) uint64 {
	if maxRaftIndex == 0 {
		return DefaultRevisionBump
	}
	bump := maxRaftIndex / 5
	if snapshotRevision >= 0 && maxRaftIndex > uint64(snapshotRevision) {
		bump += maxRaftIndex - uint64(snapshotRevision)
	}
	if bump == 0 {
		bump = 1
	}
	return bump
}
