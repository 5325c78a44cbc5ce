package restore

import "context"

// DataDirWriter writes the data directory of a new single-member etcd
// cluster from a snapshot, in this process: the one step of
// RestoreSnapshot, and of the plan's restore-snapshot step when it
// restores in process, that needs etcd's own server code. Package
// restore/inprocess provides it with etcd's etcdutl library
// (inprocess.WriteDataDir, the code behind "etcdutl snapshot restore");
// it is a separate package so that importing restore (to build and print
// a plan, to restore through the restore pod) does not build the etcd
// server.
//
// It is called with a checked snapshot and a spec.OutputDir that does not
// exist yet; on error it may leave a partial spec.OutputDir, which the
// caller removes. It must write the data directory of etcd of the version
// Decide compares with (LibraryEtcdVersion of a Decision): inprocess's is
// the etcd of lifeboat's go.mod. It need not be interruptible: the caller
// checks ctx before and after.
type DataDirWriter func(ctx context.Context, spec DataDirSpec) error

// DataDirSpec is what a DataDirWriter writes: the fields of "etcdutl
// snapshot restore" that lifeboat sets.
type DataDirSpec struct {
	// SnapshotPath is the snapshot file (a bolt database, with or without
	// etcd's sha256 trailer).
	SnapshotPath string
	// OutputDir is the new data directory ("<dir>/member" is written).
	OutputDir string
	// Name and PeerURL of the single member; the initial cluster is
	// Name=PeerURL.
	Name    string
	PeerURL string
	// ClusterToken is the new cluster's initial cluster token.
	ClusterToken string
	// SkipHashCheck accepts a snapshot without a sha256 trailer; a
	// trailer, when present and not skipped, is checked while copying.
	SkipHashCheck bool
	// RevisionBump is added to the snapshot's revision; when it is not 0
	// that revision is also marked compacted.
	RevisionBump uint64
}
