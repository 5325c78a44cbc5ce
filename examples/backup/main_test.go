package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/backup"
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
	if want := "Namespace ServiceAccount ClusterRole ClusterRoleBinding Role RoleBinding CronJob"; strings.Join(kinds, " ") != want {
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
