package restore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/internal/safetar"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// tarEntry is one entry of a test archive.
type tarEntry struct {
	name, body, link string
}

// archiveWith builds a static_kuberesources archive holding the fixture's
// files plus extra entries.
func archiveWith(t *testing.T, f *fixture, extra ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range append(f.archiveEntries(), extra...) {
		hdr := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(e.body))}
		if e.link != "" {
			hdr.Typeflag, hdr.Size, hdr.Linkname = tar.TypeSymlink, 0, e.link
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// replaceArchive writes a new archive into the fixture's backup (and its
// manifest, so only the intended fault remains).
func replaceArchive(t *testing.T, f *fixture, b []byte) {
	t.Helper()
	p := globOne(t, f.backupDir, "static_kuberesources_*.tar.gz")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	writeManifest(t, f.backupDir, f.stamp, "4.5.2", f.snapRev)
}

// downHost is a master that no longer answers (powered off, unreachable).
func downHost(h host.Host) host.Host {
	return hosttest.Wrap(h, hosttest.Funcs{
		Stat: func(_ context.Context, h host.Host, p string) (host.FileInfo, error) {
			return host.FileInfo{}, fmt.Errorf("stat %s on %s: %w", p, h.Name(), errDown)
		},
		Containers: func(context.Context, host.Host, string) ([]host.Container, error) {
			return nil, errDown
		},
	})
}

var errDown = errors.New("injected: host does not answer")

// TestPreflightRefusalsTouchNothing is fault 4 of issue 10: every check a
// later step of the plan applies is applied by verify-backup, so a backup
// or a host the restore cannot use is refused before any host is touched.
// For each refusal, a listing of every host's tree (names, modes,
// contents) is the same before and after the run.
func TestPreflightRefusalsTouchNothing(t *testing.T) {
	cases := []struct {
		name   string
		modify func(t *testing.T, f *fixture, o *job)
		want   error
		check  string // the PreflightError's Check, when one
	}{
		{"archive with an in-tree symlink", func(t *testing.T, f *fixture, o *job) {
			replaceArchive(t, f, archiveWith(t, f, tarEntry{name: "static-pod-resources/etcd-pod-3/secrets/peer-link.crt", link: "etcd-all-peer/peer.crt"}))
		}, safetar.ErrLinksUnsupported, "archive-links"},
		{"no room for the restored data", func(t *testing.T, f *fixture, o *job) {
			o.FreeSpace = func(ctx context.Context, h host.Host, p string) (FreeSpace, error) {
				return FreeSpace{Bytes: 1 << 10, Filesystem: "one"}, nil
			}
		}, backup.ErrInsufficientSpace, "free-space"},
		{"snapshot newer than the cluster's etcd", func(t *testing.T, f *fixture, o *job) {
			o.ClusterEtcdVersion = "3.4.0"
		}, ErrSnapshotTooNew, "versions"},
		{"restore pod image unknown", func(t *testing.T, f *fixture, o *job) {
			o.ForceRestorePod = true
			noImage := strings.Replace(etcdPodYAML("master-0", f.peers["master-0"], 4), "    image: quay.io/example/etcd@sha256:abc\n", "", 1)
			writeFile(t, filepath.Join(f.roots["master-0"], "etc/kubernetes/manifests/etcd-pod.yaml"), noImage)
		}, ErrRestorePodImage, "restore-pod"},
		{"peer URL of the restored member unknown", func(t *testing.T, f *fixture, o *job) {
			noPeer := strings.Replace(etcdPodYAML("master-1", f.peers["master-1"], 4), "    - --initial-advertise-peer-urls="+f.peers["master-1"]+"\n", "", 1)
			writeFile(t, filepath.Join(f.roots["master-1"], "etc/kubernetes/manifests/etcd-pod.yaml"), noPeer)
			*o = f.options("master-1")
		}, lifeboat.ErrInvalidOptions, "member"},
		{"unreadable revision.json", func(t *testing.T, f *fixture, o *job) {
			writeFile(t, filepath.Join(f.roots["master-0"], "var/lib/etcd/revision.json"), "{not json")
		}, nil, "revision-file"},
		{"another master does not answer", func(t *testing.T, f *fixture, o *job) {
			o.Others[1] = downHost(o.Others[1])
		}, errDown, "hosts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts := f.options("master-0")
			tc.modify(t, f, &opts)
			before := f.snapshotTrees(t)
			_, err := runJob(context.Background(), opts)
			var se *plan.StepError
			if !errors.As(err, &se) || se.Step != "verify-backup" {
				t.Fatalf("err = %v, want verify-backup to fail", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			var pe *PreflightError
			if !errors.As(err, &pe) || pe.Check != tc.check {
				t.Errorf("err = %v, want a *PreflightError of check %q", err, tc.check)
			}
			if after := f.snapshotTrees(t); after != before {
				t.Fatal("a refused restore changed a host")
			}
		})
	}
}

// TestPreflightAcceptsWhatTheStepsAccept: the checks do not refuse a
// backup the steps can restore; a dry run reports what they found.
func TestPreflightAcceptsWhatTheStepsAccept(t *testing.T) {
	f := newFixture(t)
	opts := f.options("master-0")
	opts.DryRun = true
	var evs []plan.Event
	opts.Report = collect(&evs)
	if _, err := runJob(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range evs {
		if e.Step.ID == "verify-backup" && e.Status == plan.Progress {
			msgs = append(msgs, e.Message)
		}
	}
	for _, want := range []string{"free space", "member master-0"} {
		if !strings.Contains(strings.Join(msgs, "\n"), want) {
			t.Errorf("verify-backup progress lacks %q:\n%s", want, strings.Join(msgs, "\n"))
		}
	}
}
