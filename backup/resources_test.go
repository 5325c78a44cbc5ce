package backup

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/host/hosttest"
)

// writeTree creates files (path → content) under root; a content of
// "dir" makes a directory.
func writeTree(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if content == "dir" {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// podManifest is a static pod manifest referencing revision rev of
// component by hostPath volume and label.
func podManifest(component string, rev int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
  namespace: openshift-%[1]s
  labels:
    app: %[1]s
    revision: "%[2]d"
spec:
  containers:
  - name: %[1]s
    image: quay.io/openshift/%[1]s
  volumes:
  - name: resource-dir
    hostPath:
      path: /etc/kubernetes/static-pod-resources/%[1]s-pod-%[2]d
  - name: cert-dir
    hostPath:
      path: /etc/kubernetes/static-pod-resources/%[1]s-certs
`, component, rev)
}

// masterTree lays out a master's /etc/kubernetes: every component has
// revisions 2..4 on disk and its manifest runs revision 3 (the highest
// on-disk revision is a newer one not rolled out yet).
func masterTree(t testing.TB, root string) {
	t.Helper()
	files := map[string]string{}
	for _, c := range Components() {
		files["etc/kubernetes/manifests/"+c+"-pod.yaml"] = podManifest(c, 3)
		for rev := 2; rev <= 4; rev++ {
			d := fmt.Sprintf("etc/kubernetes/static-pod-resources/%s-pod-%d/", c, rev)
			files[d+c+"-pod.yaml"] = podManifest(c, rev)
			files[d+"configmaps/config/config.yaml"] = fmt.Sprintf("rev: %d\n", rev)
			files[d+"secrets/serving-cert/tls.key"] = "not a real key"
		}
		files["etc/kubernetes/static-pod-resources/"+c+"-certs/ca.crt"] = "ca"
	}
	writeTree(t, root, files)
}

func TestArchiveStaticResources(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t *testing.T, root string)
		wantRevs  map[string]int
		fallbacks []string
		wantErr   error
	}{
		{
			name:     "manifest revision over a higher one",
			wantRevs: map[string]int{"kube-apiserver": 3, "kube-controller-manager": 3, "kube-scheduler": 3, "etcd": 3},
		},
		{
			name: "label only",
			setup: func(t *testing.T, root string) {
				writeTree(t, root, map[string]string{"etc/kubernetes/manifests/etcd-pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    revision: \"2\"\n"})
			},
			wantRevs: map[string]int{"kube-apiserver": 3, "kube-controller-manager": 3, "kube-scheduler": 3, "etcd": 2},
		},
		{
			name: "manifest missing falls back to highest",
			setup: func(t *testing.T, root string) {
				os.Remove(filepath.Join(root, "etc/kubernetes/manifests/kube-scheduler-pod.yaml"))
			},
			wantRevs:  map[string]int{"kube-apiserver": 3, "kube-controller-manager": 3, "kube-scheduler": 4, "etcd": 3},
			fallbacks: []string{"kube-scheduler"},
		},
		{
			name: "referenced revision missing",
			setup: func(t *testing.T, root string) {
				os.RemoveAll(filepath.Join(root, "etc/kubernetes/static-pod-resources/etcd-pod-3"))
			},
			wantErr: ErrResourcesMissing,
		},
		{
			name: "manifest missing and no revisions",
			setup: func(t *testing.T, root string) {
				os.Remove(filepath.Join(root, "etc/kubernetes/manifests/etcd-pod.yaml"))
				for rev := 2; rev <= 4; rev++ {
					os.RemoveAll(filepath.Join(root, fmt.Sprintf("etc/kubernetes/static-pod-resources/etcd-pod-%d", rev)))
				}
			},
			wantErr: ErrResourcesMissing,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			masterTree(t, root)
			if tc.setup != nil {
				tc.setup(t, root)
			}
			h := hosttest.NewDir("master-0", root, hosttest.DirOptions{})
			out := t.TempDir()
			res, err := ArchiveStaticResources(t.Context(), h, out, ResourcesOptions{Name: "r.tar.gz"})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				assertNoFiles(t, out)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Fallbacks, tc.fallbacks) {
				t.Errorf("fallbacks = %v, want %v", res.Fallbacks, tc.fallbacks)
			}
			var wantNames []string
			for _, rd := range res.Dirs {
				if rd.Revision != tc.wantRevs[rd.Component] {
					t.Errorf("%s: revision %d, want %d", rd.Component, rd.Revision, tc.wantRevs[rd.Component])
				}
				wantSource := sourceManifest
				if slices.Contains(tc.fallbacks, rd.Component) {
					wantSource = sourceHighest
				}
				if rd.Source != wantSource {
					t.Errorf("%s: source %s, want %s", rd.Component, rd.Source, wantSource)
				}
				d := fmt.Sprintf("static-pod-resources/%s-pod-%d/", rd.Component, rd.Revision)
				wantNames = append(wantNames, d, d+"configmaps/", d+"configmaps/config/", d+"configmaps/config/config.yaml",
					d+rd.Component+"-pod.yaml", d+"secrets/", d+"secrets/serving-cert/", d+"secrets/serving-cert/tls.key")
			}
			fi, err := os.Stat(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 || fi.Size() != res.Size {
				t.Errorf("archive mode %v size %d, result size %d", fi.Mode(), fi.Size(), res.Size)
			}
			got := tarNames(t, res.Path)
			slices.Sort(got)
			slices.Sort(wantNames)
			if !slices.Equal(got, wantNames) {
				t.Errorf("archive holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantNames, "\n"))
			}
		})
	}
}

func tarNames(t testing.TB, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
}

// TestArchiveReadByGNUTar checks the archive the way cluster-restore.sh
// uses it: GNU tar lists "*etcd-pod.yaml" and extracts static-pod-resources.
func TestArchiveReadByGNUTar(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("tar not installed")
	}
	root := t.TempDir()
	masterTree(t, root)
	out := t.TempDir()
	res, err := ArchiveStaticResources(t.Context(), hosttest.NewDir("m", root, hosttest.DirOptions{}), out, ResourcesOptions{Name: "r.tar.gz"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := exec.Command(tarBin, "-tvf", res.Path, "--wildcards", "*etcd-pod.yaml").CombinedOutput()
	if err != nil {
		t.Fatalf("tar -tvf: %v\n%s", err, list)
	}
	fields := strings.Fields(string(list))
	if len(fields) < 6 || fields[5] != "static-pod-resources/etcd-pod-3/etcd-pod.yaml" {
		t.Fatalf("tar -tvf listed %q", list)
	}
	dst := t.TempDir()
	if b, err := exec.Command(tarBin, "-C", dst, "-xzf", res.Path, "static-pod-resources").CombinedOutput(); err != nil {
		t.Fatalf("tar -xzf: %v\n%s", err, b)
	}
	b, err := os.ReadFile(filepath.Join(dst, "static-pod-resources/kube-apiserver-pod-3/configmaps/config/config.yaml"))
	if err != nil || string(b) != "rev: 3\n" {
		t.Fatalf("extracted config: %q, %v", b, err)
	}
}
