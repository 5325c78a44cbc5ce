package member

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// slowKubelet wraps a hosttest.Dir whose kubelet runs the etcd pod while
// its manifest is in place: the etcd operator's container runs always,
// and the pod's containers stop two checks after the manifest leaves.
func slowKubelet(d *hosttest.Dir) host.Host {
	calls := 0
	return hosttest.Wrap(d, hosttest.Funcs{
		Containers: func(ctx context.Context, next host.Host, name string) ([]host.Container, error) {
			calls++
			cs, err := next.Containers(ctx, name)
			if err != nil {
				return nil, err
			}
			if len(cs) == 0 && calls < 3 {
				for _, c := range hosttest.StaticPods()["etcd-pod.yaml"] {
					cs = append(cs, host.Container{ID: c, Name: c, Pod: "etcd-" + next.Name(), State: "Running"})
				}
			}
			return append(cs, host.Container{ID: "op", Name: "etcd-operator", State: "Running"}), nil
		},
	})
}

func hostTree(t *testing.T, withTmpEtcd bool) (string, host.Host) {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc/kubernetes/manifests", "var/lib/etcd/member/snap", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/kubernetes/manifests/etcd-pod.yaml", "kind: Pod\n")
	write("var/lib/etcd/member/snap/db", "data")
	if withTmpEtcd {
		if err := os.MkdirAll(filepath.Join(root, "tmp/etcd"), 0o755); err != nil {
			t.Fatal(err)
		}
		write("tmp/etcd/other", "someone else's")
	}
	return root, slowKubelet(hosttest.NewDir("master-0", root, hosttest.DirOptions{}))
}

func TestStopEtcdMember(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 24, 18, 9, 0, 0, time.UTC) }
	tests := []struct {
		name        string
		tmpTaken    bool
		wantDataDir string
	}{
		{"runbook paths", false, "/tmp/etcd"},
		{"/tmp/etcd already taken", true, "/tmp/etcd-20261124-180900.000000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, h := hostTree(t, tc.tmpTaken)
			var progress []string
			opts := StopOptions{Interval: time.Millisecond, Now: now, Logger: quiet}
			ctx := plan.WithReport(t.Context(), func(e plan.Event) { progress = append(progress, e.Message) })
			res, err := StopEtcdMember(ctx, h, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.ManifestMovedTo != "/var/lib/etcd-backup/etcd-pod.yaml" || res.DataDirMovedTo != tc.wantDataDir {
				t.Fatalf("result %+v", res)
			}
			for _, p := range []string{"var/lib/etcd-backup/etcd-pod.yaml", tc.wantDataDir[1:] + "/member/snap/db"} {
				if _, err := os.Stat(filepath.Join(root, p)); err != nil {
					t.Errorf("%s: %v", p, err)
				}
			}
			for _, p := range []string{"etc/kubernetes/manifests/etcd-pod.yaml", "var/lib/etcd"} {
				if _, err := os.Stat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s still there: %v", p, err)
				}
			}
			if tc.tmpTaken {
				if _, err := os.Stat(filepath.Join(root, "tmp/etcd/other")); err != nil {
					t.Errorf("the existing /tmp/etcd was touched: %v", err)
				}
			}
			if len(progress) == 0 {
				t.Error("no progress while etcd containers were running")
			}
			// Idempotent: a second run finds everything moved.
			if _, err := StopEtcdMember(t.Context(), h, opts); err != nil {
				t.Fatalf("second run: %v", err)
			}
			if _, err := os.Stat(filepath.Join(root, tc.wantDataDir[1:], "member/snap/db")); err != nil {
				t.Fatalf("data lost after second run: %v", err)
			}
		})
	}
}

func TestStopEtcdMemberHonoursContext(t *testing.T) {
	root, _ := hostTree(t, false)
	// The etcd pod never stops.
	h := hosttest.Wrap(hosttest.NewDir("master-0", root, hosttest.DirOptions{}), hosttest.Funcs{
		Containers: func(context.Context, host.Host, string) ([]host.Container, error) {
			return []host.Container{{Name: "etcd", State: "Running"}}, nil
		},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := StopEtcdMember(ctx, h, StopOptions{Interval: time.Millisecond, Logger: quiet})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/etcd/member/snap/db")); err != nil {
		t.Fatalf("data dir moved while etcd still ran: %v", err)
	}
}
