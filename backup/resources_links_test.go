package backup

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/internal/safetar"
)

// TestArchiveStaticResourcesLinks is the backup side of fault 4 of issue
// 10: the archive never holds what the restore refuses. In-tree links are
// stored as the files and directories they lead to (the archive Verify
// reads then holds no link, and extracts into a target that cannot
// create links); links that leave the component's directory, dangle or
// loop fail the archive with ErrUnsafeResource.
func TestArchiveStaticResourcesLinks(t *testing.T) {
	const dir = "etc/kubernetes/static-pod-resources/etcd-pod-3"
	cases := []struct {
		name    string
		links   map[string]string // name under dir -> target
		want    map[string]string // extracted file -> content
		wantErr error
	}{
		{name: "link to a file", links: map[string]string{"secrets/peer.crt": "serving-cert/tls.key"},
			want: map[string]string{"secrets/peer.crt": "not a real key", "secrets/serving-cert/tls.key": "not a real key"}},
		{name: "link to a directory", links: map[string]string{"configmaps/current": "config"},
			want: map[string]string{"configmaps/current/config.yaml": "rev: 3\n"}},
		{name: "chain of links through a linked directory", links: map[string]string{"a": "configmaps/current/config.yaml", "configmaps/current": "config"},
			want: map[string]string{"a": "rev: 3\n"}},
		{name: "absolute link inside the directory", links: map[string]string{"b": "/" + dir + "/configmaps/config/config.yaml"},
			want: map[string]string{"b": "rev: 3\n"}},
		{name: "link out of the directory", links: map[string]string{"ca.crt": "../etcd-certs/ca.crt"}, wantErr: ErrUnsafeResource},
		{name: "absolute link elsewhere", links: map[string]string{"passwd": "/etc/passwd"}, wantErr: ErrUnsafeResource},
		{name: "dangling link", links: map[string]string{"gone": "nothing-here"}, wantErr: ErrUnsafeResource},
		{name: "directory loop", links: map[string]string{"configmaps/config/up": ".."}, wantErr: ErrUnsafeResource},
		{name: "link loop", links: map[string]string{"x": "y", "y": "x"}, wantErr: ErrUnsafeResource},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			masterTree(t, root)
			for name, target := range tc.links {
				// An absolute target is the host's path (as on a master).
				if err := os.Symlink(target, filepath.Join(root, dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			h := hosttest.NewDir("m", root, hosttest.DirOptions{})
			out := t.TempDir()
			stamp := "2026-11-24_180000"
			res, err := ArchiveStaticResources(t.Context(), h, out, ResourcesOptions{Name: ResourcesFileName(stamp, false)})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if m, _ := filepath.Glob(filepath.Join(out, "*")); len(m) != 0 {
					t.Errorf("a failed archive left %v", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, ai, err := archiveInfo(t.Context(), res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if len(ai.Links) != 0 {
				t.Errorf("archive holds links %v", ai.Links)
			}
			// A target that cannot create links (a host) takes it whole.
			dst := t.TempDir()
			if _, err := safetar.Extract(t.Context(), func() (io.ReadCloser, error) { return os.Open(res.Path) }, noLinks{dir: dst}, "/", safetar.Options{}); err != nil {
				t.Fatalf("extracting into a target without links: %v", err)
			}
			for name, body := range tc.want {
				b, err := os.ReadFile(filepath.Join(dst, "static-pod-resources/etcd-pod-3", name))
				if err != nil || string(b) != body {
					t.Errorf("%s: %q, %v; want %q", name, b, err, body)
				}
			}
			// And GNU tar, as cluster-restore.sh uses it.
			if tarBin, err := exec.LookPath("tar"); err == nil {
				tdst := t.TempDir()
				if b, err := exec.Command(tarBin, "-C", tdst, "-xzf", res.Path, "static-pod-resources").CombinedOutput(); err != nil {
					t.Fatalf("tar -xzf: %v\n%s", err, b)
				}
				for name, body := range tc.want {
					b, err := os.ReadFile(filepath.Join(tdst, "static-pod-resources/etcd-pod-3", name))
					if err != nil || string(b) != body {
						t.Errorf("tar: %s: %q, %v; want %q", name, b, err, body)
					}
				}
			}
		})
	}
}

// archiveInfo verifies a lone archive the way Verify does.
func archiveInfo(ctx context.Context, p string) ([]ResourceDir, *ArchiveInfo, error) {
	h := host.NewLocal("local", "/", host.LocalOptions{})
	abs, _ := filepath.Abs(p)
	_, _, dirs, ai, err := checkArchive(ctx, h, abs, []string{"etcd"})
	return dirs, ai, err
}
