package restore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	etcdversion "go.etcd.io/etcd/api/v3/version"
)

// libraryEtcdVersion is the version of the etcd libraries (etcdutl) that
// lifeboat restores with in process, e.g. "3.7.3".
func libraryEtcdVersion() string { return etcdversion.Version }

// Method is how a snapshot is turned into a data directory.
type Method string

const (
	// InProcess: lifeboat's etcdutl library writes the data directory
	// ([RestoreSnapshot]).
	InProcess Method = "in-process"
	// RestorePod: a static pod running the cluster's own etcd image writes
	// it, as cluster-restore.sh does.
	RestorePod Method = "restore-pod"
)

// Decision is the outcome of [Decide].
type Decision struct {
	Method Method
	// Reason explains the choice in one sentence.
	Reason string
	// The versions compared ("" when unknown).
	SnapshotStorageVersion string
	ClusterEtcdVersion     string
	LibraryEtcdVersion     string
}

// Decide chooses how to restore a snapshot whose storage version (from its
// meta bucket; "" for snapshots of etcd older than 3.6, which do not record
// one) into a cluster running etcd clusterEtcdVersion ("3.5.9", "v3.7.3";
// "" when unknown).
//
// The rule, with L the version of lifeboat's etcd libraries:
//   - a snapshot whose storage version is newer (major.minor) than the
//     cluster's etcd is refused with ErrSnapshotTooNew: no tool can make
//     that etcd read it;
//   - when the cluster's etcd major.minor is at least L's, lifeboat's etcdutl
//     writes a data directory that etcd can read: InProcess;
//   - when it is older, etcdutl might write WAL, raft snapshot or schema
//     records that etcd does not know: RestorePod, which restores with the
//     cluster's own etcdctl/etcdutl;
//   - when the cluster's etcd version is unknown, the snapshot's storage
//     version stands for it (a cluster runs at least the version that wrote
//     its data); a snapshot without one comes from etcd older than 3.6, so
//     RestorePod.
func Decide(snapshotStorageVersion, clusterEtcdVersion string) (Decision, error) {
	d := Decision{
		SnapshotStorageVersion: snapshotStorageVersion,
		ClusterEtcdVersion:     clusterEtcdVersion,
		LibraryEtcdVersion:     libraryEtcdVersion(),
	}
	lib, err := majorMinor(libraryEtcdVersion())
	if err != nil {
		return d, fmt.Errorf("library etcd version: %w", err)
	}
	var snap, cluster [2]int
	haveSnap, haveCluster := snapshotStorageVersion != "", clusterEtcdVersion != ""
	if haveSnap {
		if snap, err = majorMinor(snapshotStorageVersion); err != nil {
			return d, fmt.Errorf("%w: snapshot storage version: %v", backup.ErrCorruptDatabase, err)
		}
	}
	if haveCluster {
		if cluster, err = majorMinor(clusterEtcdVersion); err != nil {
			return d, opterr.New("restore.Decide clusterEtcdVersion", "%q: %v", clusterEtcdVersion, err)
		}
	}
	if haveSnap && haveCluster && less(cluster, snap) {
		return d, fmt.Errorf("%w: snapshot storage version %s, cluster etcd %s", ErrSnapshotTooNew, snapshotStorageVersion, clusterEtcdVersion)
	}
	switch {
	case haveCluster && !less(cluster, lib):
		d.Method = InProcess
		d.Reason = fmt.Sprintf("the cluster runs etcd %s, which reads data directories written by etcdutl %s", clusterEtcdVersion, libraryEtcdVersion())
	case haveCluster:
		d.Method = RestorePod
		d.Reason = fmt.Sprintf("the cluster runs etcd %s, older than lifeboat's etcdutl %s: restore with the cluster's own etcd image", clusterEtcdVersion, libraryEtcdVersion())
	case haveSnap && !less(snap, lib):
		d.Method = InProcess
		d.Reason = fmt.Sprintf("the cluster's etcd version is unknown; the snapshot's storage version %s is at least etcdutl %s", snapshotStorageVersion, libraryEtcdVersion())
	case haveSnap:
		d.Method = RestorePod
		d.Reason = fmt.Sprintf("the cluster's etcd version is unknown and the snapshot's storage version %s is older than etcdutl %s: restore with the cluster's own etcd image", snapshotStorageVersion, libraryEtcdVersion())
	default:
		d.Method = RestorePod
		d.Reason = "the snapshot records no storage version (etcd older than 3.6) and the cluster's etcd version is unknown: restore with the cluster's own etcd image"
	}
	return d, nil
}

func less(a, b [2]int) bool { return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1]) }

// majorMinor parses "v3.5.9", "3.6.0", "3.6".
func majorMinor(v string) ([2]int, error) {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(v), "v"), ".", 3)
	if len(parts) < 2 {
		return [2]int{}, fmt.Errorf("version %q is not major.minor[.patch]", v)
	}
	var out [2]int
	for i := 0; i < 2; i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return [2]int{}, fmt.Errorf("version %q is not major.minor[.patch]", v)
		}
		out[i] = n
	}
	return out, nil
}

// zStream normalises an OpenShift version for the z-stream comparison:
// leading "v" and build metadata ("+...") are dropped. "4.5.2" and "v4.5.2"
// are the same z-stream; "4.5.2" and "4.5.3" are not.
func zStream(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v = v[:i]
	}
	return v
}

// checkVersions returns a *VersionMismatchError when both versions are
// known and belong to different z-streams. An unknown version ("") passes:
// a backup taken by the cluster's own cluster-backup.sh records none.
func checkVersions(backupVersion, clusterVersion string) error {
	if backupVersion == "" || clusterVersion == "" {
		return nil
	}
	if zStream(backupVersion) != zStream(clusterVersion) {
		return &VersionMismatchError{BackupVersion: backupVersion, ClusterVersion: clusterVersion}
	}
	return nil
}
