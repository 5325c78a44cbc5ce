package boltcheck

import (
	"context"
	"encoding/binary"
	"io"
	"strconv"
)

// etcd's bucket and key names (go.etcd.io/etcd/server/v3/storage/schema).
const (
	etcdKeyBucket     = "key"
	etcdMetaBucket    = "meta"
	etcdMembers       = "members"
	etcdMembersGone   = "members_removed"
	metaConsistentIdx = "consistent_index"
	metaTerm          = "term"
	metaStorageVer    = "storageVersion"
	metaScheduledComp = "scheduledCompactRev"
	metaFinishedComp  = "finishedCompactRev"

	// revision keys: 8-byte main revision, '_', 8-byte sub revision, and
	// a trailing 't' for a tombstone.
	revKeyLen       = 17
	revTombstoneLen = 18

	maxStorageVersionLen = 64
)

// EtcdReport describes an etcd database that passed CheckEtcd.
type EtcdReport struct {
	Report
	// KeyCount is the number of entries in the "key" bucket (one per
	// revision of a key, tombstones included).
	KeyCount uint64
	// Revision is the main revision of the last entry in "key"; 0 when the
	// bucket is empty.
	Revision int64
	// ConsistentIndex and Term from the "meta" bucket; HasConsistentIndex
	// is false when the database does not record one (etcd < 3.4 or a test
	// database).
	ConsistentIndex, Term uint64
	HasConsistentIndex    bool
	// StorageVersion recorded by etcd >= 3.6 ("3.6.0"), "" before.
	StorageVersion string
}

type etcdState struct {
	rep     EtcdReport
	hasKey  bool
	lastKey []byte
}

func (e *etcdState) sawBucket(name string) {
	if name == etcdKeyBucket {
		e.hasKey = true
	}
}

// CheckEtcd is Check plus the rules of etcd's schema that etcd's restore
// (etcdutl snapshot restore, also run in process by package restore)
// assumes and panics on when broken; see the package documentation. A
// database without a "key" bucket is not an etcd database and is reported
// as corrupt.
func CheckEtcd(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*EtcdReport, error) {
	c, err := newChecker(ctx, r, size, opts)
	if err != nil {
		return nil, err
	}
	c.etcd = &etcdState{}
	if err := c.run(); err != nil {
		return nil, err
	}
	if !c.etcd.hasKey {
		return nil, corruptf(NoPage, "", "no %q bucket: not an etcd database", etcdKeyBucket)
	}
	rep := c.etcd.rep
	rep.Report = c.rep
	if k := c.etcd.lastKey; len(k) >= 8 {
		rep.Revision = int64(binary.BigEndian.Uint64(k))
	}
	return &rep, nil
}

// etcdValue applies etcd's rules to key k of a top-level bucket (path),
// whose value is vsize bytes at voff of span s.
func (c *checker) etcdValue(s *span, path string, i int, k []byte, voff, vsize int64) error {
	e := c.etcd
	switch path {
	case etcdKeyBucket:
		if !isRevision(k, true) {
			return corruptf(s.id, path, "element %d: key %x is not an etcd revision", i, k)
		}
		e.rep.KeyCount++
		e.lastKey = append(e.lastKey[:0], k...)
	case etcdMembers, etcdMembersGone:
		if _, err := strconv.ParseUint(string(k), 16, 64); err != nil {
			return corruptf(s.id, path, "element %d: key %q is not a hexadecimal member id", i, k)
		}
	case etcdMetaBucket:
		return c.etcdMeta(s, i, k, voff, vsize)
	}
	return nil
}

func (c *checker) etcdMeta(s *span, i int, k []byte, voff, vsize int64) error {
	e := c.etcd
	want := func(n int64) ([]byte, error) {
		if vsize != n {
			return nil, corruptf(s.id, etcdMetaBucket, "element %d: %q holds %d bytes, want %d", i, k, vsize, n)
		}
		return c.bytes(s, voff, vsize, etcdMetaBucket, string(k))
	}
	switch string(k) {
	case metaConsistentIdx:
		v, err := want(8)
		if err != nil {
			return err
		}
		e.rep.ConsistentIndex, e.rep.HasConsistentIndex = binary.BigEndian.Uint64(v), true
	case metaTerm:
		v, err := want(8)
		if err != nil {
			return err
		}
		e.rep.Term = binary.BigEndian.Uint64(v)
	case metaScheduledComp, metaFinishedComp:
		v, err := c.bytes(s, voff, min(vsize, revTombstoneLen+1), etcdMetaBucket, string(k))
		if err != nil {
			return err
		}
		if !isRevision(v, false) {
			return corruptf(s.id, etcdMetaBucket, "element %d: %q value %x is not an etcd revision", i, k, v)
		}
	case metaStorageVer:
		if vsize > maxStorageVersionLen {
			return corruptf(s.id, etcdMetaBucket, "element %d: storage version of %d bytes", i, vsize)
		}
		v, err := c.bytes(s, voff, vsize, etcdMetaBucket, string(k))
		if err != nil {
			return err
		}
		e.rep.StorageVersion = string(v)
	}
	return nil
}

// isRevision: b is an etcd revision key (main, '_', sub), with an optional
// tombstone mark when tombstone is allowed.
func isRevision(b []byte, tombstone bool) bool {
	switch {
	case len(b) == revKeyLen:
	case tombstone && len(b) == revTombstoneLen && b[revKeyLen] == 't':
	default:
		return false
	}
	// etcd panics on a negative main or sub revision.
	return b[8] == '_' && b[0]&0x80 == 0 && b[9]&0x80 == 0
}
