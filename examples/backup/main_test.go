package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"

	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// TestBackupProgram runs the program against the simulated cluster as an
// administrator would on a master: refused while the cluster is younger
// than its first certificate rotation (exit 3, nothing written), then taken
// and verified.
func TestBackupProgram(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Workers: -1})
	master := c.Masters()[0]
	tls := c.EtcdTLS()
	args := []string{
		"-kubeconfig", c.KubeconfigPath,
		"-endpoints", strings.Join(c.EtcdEndpoints(), ","),
		"-cacert", tls.CAFile, "-cert", tls.CertFile, "-key", tls.KeyFile,
		"-host-root", c.Host(master).Root(), "-node", master,
	}

	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run(append(args, dir), &out, &errb); code != exitPrecheck {
		t.Fatalf("backup of a cluster installed seconds ago: exit %d, want %d\n%s%s", code, exitPrecheck, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "24h") && !strings.Contains(errb.String(), "rotation") {
		t.Errorf("pre-check error does not say why: %s", errb.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("refused backup left %d files", len(entries))
	}

	out.Reset()
	errb.Reset()
	if code := run(append(args, "-min-cluster-age=-1s", dir), &out, &errb); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "successfully saved to "+dir) {
		t.Errorf("output lacks the script's last line:\n%s", out.String())
	}
	b, err := backup.Verify(t.Context(), dir, backup.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.ClusterVersion != "4.5.2" || b.Manifest == nil || len(b.ResourceDirs) != 4 {
		t.Errorf("backup %+v", b)
	}
	for _, f := range []string{b.Snapshot.Path, b.Resources.Path} {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, err, fi.Mode())
		}
	}

	t.Run("streamed to a destination", func(t *testing.T) {
		// Off-cluster, encrypted, nothing on the master's disk; plain
		// progress lines since stdout is not a terminal.
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		rcpFile := filepath.Join(t.TempDir(), "recipients")
		if err := os.WriteFile(rcpFile, []byte("# backup key\n"+id.Recipient().String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		store := "file://" + t.TempDir()
		before := hostFiles(t, c.Host(master).Root())
		var out, errb bytes.Buffer
		code := run(append(args, "-min-cluster-age=-1s", "-destination", store, "-prefix", "prod", "-recipients-file", rcpFile,
			"-metrics-textfile", filepath.Join(t.TempDir(), "lifeboat.prom")), &out, &errb)
		if code != exitOK {
			t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
		}
		if !regexp.MustCompile(`(?m)^streaming snapshot_\S+\.db: .* of .*\(100%\).*done in`).MatchString(out.String()) ||
			!strings.Contains(out.String(), "is stored and verified at file://") {
			t.Errorf("output lacks the progress lines or the result:\n%s", out.String())
		}
		if after := hostFiles(t, c.Host(master).Root()); !slices.Equal(before, after) {
			t.Errorf("the stream wrote to the master's disk:\n%v\nwas\n%v", after, before)
		}
		ls, err := offsite.List(t.Context(), offsite.Destination{URL: store, Prefix: "prod"}, offsite.ListOptions{})
		if err != nil || len(ls) != 1 || !ls[0].Verified {
			t.Fatalf("List: %+v, %v", ls, err)
		}
		got, err := offsite.Fetch(t.Context(), ls[0].ID, t.TempDir(), offsite.FetchOptions{
			Source: offsite.Destination{URL: store, Prefix: "prod"}, Identities: []age.Identity{id}})
		if err != nil {
			t.Fatal(err)
		}
		if got.ClusterVersion != "4.5.2" || len(got.ResourceDirs) != 4 {
			t.Errorf("fetched %+v", got)
		}
	})
}

// hostFiles lists the backup files (snapshots, archives, manifests and
// their .part files) under root, with their sizes; the simulated
// master's etcd keeps writing its own files there.
func hostFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if n := d.Name(); strings.HasPrefix(n, "snapshot_") || strings.HasPrefix(n, "static_kuberesources_") ||
			strings.HasPrefix(n, backup.ManifestFileName) || strings.HasSuffix(n, ".part") {
			if fi, err := d.Info(); err == nil {
				out = append(out, fmt.Sprintf("%s %d", p, fi.Size()))
			}
		}
		return nil
	})
	return out
}

// TestCronJobUsesTheProgramsFlags keeps examples/cronjob in step with this
// program: every flag the CronJob passes exists here.
func TestCronJobUsesTheProgramsFlags(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "cronjob", "backup-cronjob.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("invalid YAML document: %v\n%s", err, doc)
		}
		kinds = append(kinds, obj["kind"].(string))
	}
	if want := "Namespace ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding ConfigMap CronJob"; strings.Join(kinds, " ") != want {
		t.Errorf("kinds %v, want %s", kinds, want)
	}
	var out, errb bytes.Buffer
	run([]string{"-h"}, &out, &errb)
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z-]+)=`).FindAllStringSubmatch(string(raw), -1) {
		if !strings.Contains(errb.String(), "-"+m[1]+" ") && !strings.Contains(errb.String(), "-"+m[1]+"\n") {
			t.Errorf("the CronJob passes -%s, which the program does not have", m[1])
		}
	}
}
