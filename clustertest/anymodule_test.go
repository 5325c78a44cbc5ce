package clustertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// throwawayTest is the whole test file of a module that is not lifeboat:
// it starts clustertest and runs one procedure of the runbook (a backup, as
// cluster-backup.sh takes it) the way an embedder's test would.
const throwawayTest = `package throwaway_test

import (
	"testing"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

func TestBackupOnClustertest(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	etcd, err := c.EtcdClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	dir := t.TempDir()
	b := new(backup.Backup)
	take, err := backup.TakePlan(backup.TakeDeps{Etcd: etcd, Host: c.Host(c.Masters()[0]), Config: c.Config},
		backup.TakeOptions{Dir: dir, MinClusterAge: -1, Result: b})
	if err == nil {
		err = take.Run(t.Context(), plan.RunOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(t.Context(), dir, backup.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Log("backup verified:", b.Timestamp)
}
`

// An embedder's module, outside lifeboat's repository and with none of
// lifeboat's environment variables, starts clustertest and runs a
// procedure: the binaries are found by version in the cache, nothing walks
// up to lifeboat's go.mod, and no state is shared through the package. The
// module's dependencies are lifeboat's, already in the module cache (the
// environment's GOPROXY is kept for a cache that lacks a go.mod file).
func TestClustertestFromAnotherModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a test binary in a throwaway module")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Dir(wd)
	// Binaries named by variables would hide whether the cache is found;
	// keep them only when the cache itself lacks them.
	env := os.Environ()
	clean := env[:0:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, "LIFEBOAT_ETCD") || strings.HasPrefix(kv, "LIFEBOAT_KUBE_APISERVER=") {
			continue
		}
		clean = append(clean, kv)
	}
	for _, kv := range []string{envEtcd, envEtcdctl, envEtcdutl, envKubeAPIServer} {
		t.Setenv(kv, "")
	}
	if _, err := FindBinaries(); err != nil {
		t.Skipf("the cache lacks the binaries (they come from variables here): %v", err)
	}

	mod := t.TempDir()
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	goMod := "module example.com/throwaway\n\ngo 1.26.0\n\n" +
		"require github.com/lifeboat-dev/lifeboat v0.0.0\n\n" +
		"replace github.com/lifeboat-dev/lifeboat => " + repo + "\n"
	for name, data := range map[string][]byte{
		"go.mod": []byte(goMod), "go.sum": sum, "throwaway_test.go": []byte(throwawayTest),
	} {
		if err := os.WriteFile(filepath.Join(mod, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", ".")
	cmd.Dir = mod
	cmd.Env = append(clean, "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go test in the throwaway module: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "backup verified:") {
		t.Fatalf("the throwaway module's test did not run the backup:\n%s", out)
	}
}
