package backup

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// PossiblyDirtyWarning is the warning Verify gives for a backup whose
// files carry DirtyMarker.
const PossiblyDirtyWarning = "possibly dirty (" + DirtyMarker + "): taken with cluster-backup.sh --force " +
	"(or by a 4.14 automated backup, which forces), without checking that no kube-apiserver, " +
	"kube-controller-manager, kube-scheduler or etcd operator was progressing: a static pod rollout may have " +
	"been under way, so the archived resources may be of another revision than the snapshot's objects expect"

// checkScriptView checks the chosen pair against what every release's
// cluster-restore.sh would take from the same directory (the last match of
// ScriptSnapshotGlob and of ScriptResourcesGlob in version order): a
// snapshot of one run beside the archive of another (a forced and an
// unforced run in the same second), and files the globs match that are no
// backup of lifeboat's names (a "snapshot.db" left by etcdctl, a
// "snapshot_x.db" copy) or no regular files (irregular: links,
// directories) are refused, naming the files. With several backups
// and chosen (chose), the other pairs are expected and only reported.
func checkScriptView(snap, arch string, globbed, irregular []string, chose bool, b *Backup, problem func(string, error)) {
	if snap != "" && arch != "" {
		_, _, sd := parseName(snap)
		_, _, ad := parseName(arch)
		if sd != ad {
			problem("", fmt.Errorf("%w: %s and %s: one forced (%s), one not, so two different runs",
				ErrTimestampMismatch, snap, arch, DirtyMarker))
		}
	}
	stray := slices.Clone(irregular)
	var others []string
	for _, n := range globbed {
		switch kind, _, _ := parseName(n); {
		case n == snap || n == arch:
		case kind == "":
			stray = append(stray, n)
		default:
			others = append(others, n)
		}
	}
	if len(stray) > 0 {
		problem("", fmt.Errorf("%w: %s also match cluster-restore.sh's %s / %s, which could restore them instead of %s",
			ErrAmbiguous, strings.Join(stray, ", "), ScriptSnapshotGlob, ScriptResourcesGlob, strings.Join(nonEmpty(snap, arch), " and ")))
	}
	if chose && len(others) > 0 {
		b.Warnings = append(b.Warnings, fmt.Sprintf("the directory also holds %s: cluster-restore.sh would take the newest backup, lifeboat takes the chosen one",
			strings.Join(others, ", ")))
	}
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// scriptGlobOthers lists the entries of the local directory dir, other
// than keep, that cluster-restore.sh's globs match (nil if dir cannot be
// read: this only feeds a warning).
func scriptGlobOthers(dir string, keep ...string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if matchesScriptGlob(e.Name()) && !slices.Contains(keep, e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}
