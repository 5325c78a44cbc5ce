package backup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host/hosttest"
)

// TestLifeboatLayoutForRestoreScripts checks, with bash and GNU tar as the
// scripts run them, that a backup lifeboat takes is what every release's
// cluster-restore.sh (4.4 to today) expects: exactly one match of each of
// its globs, the one "ls -v | tail -1" takes being lifeboat's file, and an
// archive whose every entry lies under static-pod-resources/, which
// "tar -xzf <archive> static-pod-resources" extracts and from which the
// 4.4-4.17 scripts pull each <component>-pod.yaml with --strip-components=2.
func TestLifeboatLayoutForRestoreScripts(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("tar not installed")
	}
	good := withTrailer(makeBoltDB(t, 120))
	run := func(t *testing.T, dir string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	tests := []struct {
		name  string
		force bool
		// after the backup: what else may lie in the directory.
		after func(t *testing.T, dir string, b *Backup)
	}{
		{name: "backup with its manifest"},
		{name: "forced backup", force: true},
		{name: "an interrupted later backup left its part files", after: func(t *testing.T, dir string, b *Backup) {
			later := Timestamp(testNow.Add(time.Hour))
			for _, n := range []string{SnapshotFileName(later, false), ResourcesFileName(later, false), ManifestFileName} {
				// atomicfile's part name: "<final name>.part".
				if err := os.WriteFile(filepath.Join(dir, n+".part"), []byte("partial"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			root := t.TempDir()
			masterTree(t, root)
			b, _, err := takeRun(t.Context(), TakeDeps{Etcd: newFakeEtcd(good), Host: hosttest.NewDir("master-0", root, hosttest.DirOptions{}), Config: configFakeHealthy(t)}, dir, TakeOptions{
				Force:     tc.force,
				Now:       func() time.Time { return testNow },
				FreeSpace: plentyOfSpace,
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.after != nil {
				tc.after(t, dir, b)
			}
			if _, err := os.Stat(filepath.Join(dir, ManifestFileName)); err != nil {
				t.Fatalf("no manifest: the case checks nothing of lifeboat's extras: %v", err)
			}

			// The globs, as bash expands them in the backup directory.
			for glob, want := range map[string]string{ScriptSnapshotGlob: b.Snapshot.Name, ScriptResourcesGlob: b.Resources.Name} {
				got := run(t, dir, bash, "-c", `shopt -s nullglob; f=(`+glob+`); echo "${#f[@]} ${f[*]}"`)
				if got != "1 "+want {
					t.Errorf("bash expands %s to %q, want exactly %s", glob, got, want)
				}
				// The scripts' choice: the last match in version order.
				last := run(t, dir, bash, "-c", `ls -vd "$1"/`+glob+` | tail -1`, "_", dir)
				if last != filepath.Join(dir, want) {
					t.Errorf("ls -vd %s | tail -1 = %s, want %s", glob, last, want)
				}
			}

			// The archive, as tar lists and extracts it.
			arch := filepath.Join(dir, b.Resources.Name)
			list := strings.Fields(run(t, dir, tarBin, "-tzf", arch))
			if len(list) == 0 {
				t.Fatal("tar -tzf lists nothing")
			}
			for _, e := range list {
				if top, _, _ := strings.Cut(e, "/"); top != resourcesRoot {
					t.Errorf("entry %s lies outside %s/", e, resourcesRoot)
				}
			}
			x := t.TempDir()
			run(t, x, tarBin, "-C", x, "-xzf", arch, resourcesRoot)
			man := t.TempDir()
			for _, c := range Components() {
				member := resourcesRoot + "/" + c + "-pod-3/" + c + "-pod.yaml"
				if _, err := os.Stat(filepath.Join(x, member)); err != nil {
					t.Errorf("extracting %s: %v", resourcesRoot, err)
				}
				run(t, man, tarBin, "-xzf", arch, "--strip-components=2", "-C", man, member)
				got, err := os.ReadFile(filepath.Join(man, c+"-pod.yaml"))
				if err != nil || string(got) != podManifest(c, 3) {
					t.Errorf("%s-pod.yaml extracted with --strip-components=2: %v", c, err)
				}
			}
		})
	}
}

// TestTakeWarnsWhenScriptsCouldTakeAnotherFile: a backup taken into a
// directory that already holds files the scripts' globs match is kept
// (lifeboat restores it by name) but comes with a warning naming them,
// since cluster-restore.sh would take the last match instead.
func TestTakeWarnsWhenScriptsCouldTakeAnotherFile(t *testing.T) {
	good := withTrailer(makeBoltDB(t, 120))
	tests := []struct {
		name      string
		existing  []string
		wantNamed []string
	}{
		{name: "empty directory"},
		{name: "lifeboat's own extras only", existing: []string{ManifestFileName + ".part", "notes.txt"}},
		{name: "an etcdctl snapshot.db", existing: []string{"snapshot.db"}, wantNamed: []string{"snapshot.db"}},
		{name: "a newer backup's pair", existing: []string{SnapshotFileName("2030-01-01_000000", false), ResourcesFileName("2030-01-01_000000", false)},
			wantNamed: []string{SnapshotFileName("2030-01-01_000000", false), ResourcesFileName("2030-01-01_000000", false)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, n := range tc.existing {
				if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			b := takeFake(t, dir, testNow, good)
			var warned string
			for _, w := range b.Warnings {
				if strings.Contains(w, "cluster-restore.sh") {
					warned = w
				}
			}
			if (warned != "") != (len(tc.wantNamed) > 0) {
				t.Fatalf("warnings %q, want a cluster-restore.sh warning: %v", b.Warnings, len(tc.wantNamed) > 0)
			}
			for _, n := range tc.wantNamed {
				if !strings.Contains(warned, n) {
					t.Errorf("warning %q does not name %s", warned, n)
				}
			}
		})
	}
}
