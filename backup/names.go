package backup

import (
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

// ResourcesRoot is the directory of the archive (relative to the
// configuration directory, /etc/kubernetes) that holds the static pod
// resources; cluster-restore.sh extracts only it.
const ResourcesRoot = "static-pod-resources"

// InResources reports whether the cleaned archive entry name lies in
// ResourcesRoot: the entries a restore extracts.
func InResources(name string) bool {
	return name == ResourcesRoot || strings.HasPrefix(name, ResourcesRoot+"/")
}

// resourceDirRE splits "static-pod-resources/<component>-pod-<N>[/<rest>]".
var resourceDirRE = regexp.MustCompile(`^` + ResourcesRoot + `/([a-z-]+)-pod-(\d+)(?:/(.*))?$`)
