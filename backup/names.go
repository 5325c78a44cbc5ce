package backup

import (
	"path"
	"regexp"
	"strings"
	"time"
)

// File naming, as cluster-backup.sh does it: both files carry the same
// `date "+%F_%H%M%S"` stamp (local time), and a forced backup appends
// DirtyMarker to the stamp.
const (
	// TimestampLayout is the time layout of the stamp in backup file names.
	TimestampLayout = "2006-01-02_150405"
	// DirtyMarker follows the stamp in the names of files taken with Force
	// (cluster-backup.sh --force): the operators were not checked.
	DirtyMarker = "__POSSIBLY_DIRTY__"
	// ManifestFileName is lifeboat's description of the backup, written
	// beside the two files.
	ManifestFileName = "backup.json"
)

// Timestamp formats t as backup file names carry it.
func Timestamp(t time.Time) string { return t.Format(TimestampLayout) }

// SnapshotFileName is "snapshot_<stamp>[__POSSIBLY_DIRTY__].db".
func SnapshotFileName(stamp string, dirty bool) string {
	return "snapshot_" + stamp + dirtySuffix(dirty) + ".db"
}

// ResourcesFileName is "static_kuberesources_<stamp>[__POSSIBLY_DIRTY__].tar.gz".
func ResourcesFileName(stamp string, dirty bool) string {
	return "static_kuberesources_" + stamp + dirtySuffix(dirty) + ".tar.gz"
}

func dirtySuffix(dirty bool) string {
	if dirty {
		return DirtyMarker
	}
	return ""
}

var (
	snapshotNameRE  = regexp.MustCompile(`^snapshot_(\d{4}-\d{2}-\d{2}_\d{6})(` + DirtyMarker + `)?\.db$`)
	resourcesNameRE = regexp.MustCompile(`^static_kuberesources_(\d{4}-\d{2}-\d{2}_\d{6})(` + DirtyMarker + `)?\.tar\.gz$`)
)

// parseName recognises a backup file name; kind is "snapshot" or
// "resources", "" for other names.
func parseName(name string) (kind, stamp string, dirty bool) {
	if m := snapshotNameRE.FindStringSubmatch(name); m != nil {
		return "snapshot", m[1], m[2] != ""
	}
	if m := resourcesNameRE.FindStringSubmatch(name); m != nil {
		return "resources", m[1], m[2] != ""
	}
	return "", "", false
}

// The globs every release's cluster-restore.sh (4.4 to today) expands in
// the backup directory: it takes the last match of each in version order
// ("ls -v ... | tail -1"). A backup directory must hold exactly one match
// of each, or the script may restore another file than lifeboat checked;
// lifeboat's own extras (ManifestFileName, "<name>.part" while a file is
// written) match neither.
const (
	ScriptSnapshotGlob  = "snapshot*.db"
	ScriptResourcesGlob = "static_kuberesources*.tar.gz"
)

// matchesScriptGlob reports whether cluster-restore.sh would take name for
// a snapshot or an archive.
func matchesScriptGlob(name string) bool {
	for _, g := range []string{ScriptSnapshotGlob, ScriptResourcesGlob} {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// The layouts of the folders of the cluster's own automated backups
// (Folders, LatestFolder, Verify accept them). Each run writes a
// snapshot_<stamp>.db and static_kuberesources_<stamp>.tar.gz pair (the
// names of cluster-backup.sh) into a folder of its own:
//
//   - an EtcdBackup (operator.openshift.io/v1alpha1, one-off, or created per
//     run, named after the run's job, by a Backup config.openshift.io/v1alpha1
//     schedule) writes "backup-<EtcdBackup name>-<stamp>" on its PVC
//     (mounted at /etc/kubernetes/cluster-backup). On 4.14 the job runs
//     "cluster-backup.sh --force", so the files carry __POSSIBLY_DIRTY__;
//     from 4.15 the operator's own writer makes them (no marker, and an
//     archive of regular files only, without directory entries);
//   - the Backup named "default" (4.18+) has every master's
//     etcd-backup-server write "<stamp>" folders under
//     /var/lib/etcd-auto-backup on the host.
//
// The folder's stamp is taken when the run is requested (UTC in the
// operator's pods), the files' when they are written: they need not match.
const (
	// automatedBackupPrefix starts the folders an EtcdBackup writes.
	automatedBackupPrefix = "backup-"
	// AutomatedBackupHostDir is where etcd-backup-server writes on a master.
	AutomatedBackupHostDir = "/var/lib/etcd-auto-backup"
)

var (
	etcdBackupFolderRE   = regexp.MustCompile(`^` + automatedBackupPrefix + `([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)-(\d{4}-\d{2}-\d{2}_\d{6})$`)
	serverBackupFolderRE = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}_\d{6})$`)
)

// parseFolder recognises an automated backup folder name: the EtcdBackup
// name ("" for an etcd-backup-server folder) and the stamp.
func parseFolder(name string) (backupName, stamp string, ok bool) {
	if m := etcdBackupFolderRE.FindStringSubmatch(name); m != nil {
		return m[1], m[2], true
	}
	if m := serverBackupFolderRE.FindStringSubmatch(name); m != nil {
		return "", m[1], true
	}
	return "", "", false
}

// resourcesRoot is the directory of the archive (relative to the
// configuration directory, /etc/kubernetes) that holds the static pod
// resources; cluster-restore.sh extracts only it.
const resourcesRoot = "static-pod-resources"

// InResources reports whether the cleaned archive entry name lies in
// "static-pod-resources" (the directory itself or below it): the entries a
// restore extracts.
func InResources(name string) bool {
	return name == resourcesRoot || strings.HasPrefix(name, resourcesRoot+"/")
}

// resourceDirRE splits "static-pod-resources/<component>-pod-<N>[/<rest>]".
var resourceDirRE = regexp.MustCompile(`^` + resourcesRoot + `/([a-z-]+)-pod-(\d+)(?:/(.*))?$`)
