package offsite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	configv1 "github.com/openshift/api/config/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/internal/writeback"
	"github.com/lifeboat-dev/lifeboat/internal/writeback/writebacktest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// masterRoot is a master's file system with the latest static pod
// resources of every component at revision 7.
func masterRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, c := range backup.Components() {
		res := filepath.Join(root, "etc/kubernetes/static-pod-resources", c+"-pod-7")
		write(t, filepath.Join(res, c+"-pod.yaml"), "kind: Pod\n")
		write(t, filepath.Join(res, "secrets/encryption-config/encryption-config"), "not a real key\n")
		write(t, filepath.Join(root, "etc/kubernetes/manifests", c+"-pod.yaml"), "kind: Pod\nmetadata:\n  labels:\n    revision: \"7\"\n")
	}
	return root
}

// A backup streamed from a real etcd to the destination, with and
// without a local copy: nothing lands on the master's disk unless asked,
// the stream's objects and manifest are those of Upload (List and Fetch
// read them), the fetched backup verifies, and the tee's local copy is
// byte for byte what was stored.
func TestStreamRoundTrip(t *testing.T) {
	cli := realEtcd(t, 12)
	dests := destinations()[:2] // file and s3
	for _, d := range dests {
		for _, tee := range []bool{false, true} {
			name := d.name + "/destination only"
			if tee {
				name = d.name + "/with local copy"
			}
			t.Run(name, func(t *testing.T) {
				u := d.start(t)
				hints := writebacktest.Record(t, 0)
				snapID, resID := newIdentity(t), newIdentity(t)
				root := masterRoot(t)
				before := tree(t, root)
				var local string
				if tee {
					local = filepath.Join(t.TempDir(), "backup")
				}
				streamed, report := collectBytes(t)
				res, err := offsite.Stream(plan.WithReport(t.Context(), report), cli, offsite.StreamOptions{
					Host:        hosttest.NewDir("master-0", root, hosttest.DirOptions{}),
					Config:      healthyConfig(testNow),
					Destination: offsite.Destination{URL: u, Prefix: "prod", Recipients: []string{snapID.Recipient().String()}},
					Resources:   &offsite.Destination{URL: u, Prefix: "keys", Recipients: []string{resID.Recipient().String()}},
					PartSize:    5 << 20,
					LocalDir:    local,
					Now:         func() time.Time { return testNow },
				})
				if err != nil {
					t.Fatal(err)
				}
				m := res.Manifest
				snap := m.Object(offsite.RoleSnapshot)
				stamp := backup.Timestamp(testNow)
				if m.ID != stamp || !m.Verified || m.ClusterVersion != "4.5.2" || m.Revision == 0 || m.Local == nil || !m.EncryptionEnabled ||
					snap.Name != "snapshot_"+stamp+".db" || snap.Codec != offsite.CodecZstdAge || snap.Size < 12<<20 ||
					m.Object(offsite.RoleResources).Destination != offsite.DestResources {
					t.Errorf("manifest %+v", m)
				}
				if slices.Equal(tree(t, root), before) == false {
					t.Errorf("the master's tree changed:\n%v\nwant\n%v", tree(t, root), before)
				}
				// Each file once, named after its object: the snapshot's
				// bytes are not reported by backup.SnapshotTo too.
				resObj := m.Object(offsite.RoleResources)
				streamed.check(t, map[string]int64{"streaming " + snap.Name: snap.Size, "streaming " + resObj.Name: resObj.Size})
				if first := streamed.events["streaming "+snap.Name][0]; first.BytesTotal < 12<<20 {
					t.Errorf("first snapshot event %+v: want the database size as its total", first)
				}
				if tee {
					v, err := backup.Verify(t.Context(), local, backup.VerifyOptions{})
					if err != nil || v.Snapshot.SHA256 != snap.SHA256 || v.Manifest == nil || v.Revision != m.Revision {
						t.Fatalf("Verify of the local copy: %+v, %v", v, err)
					}
				} else if res.Backup.Snapshot.Path != "" {
					t.Errorf("a snapshot path without a local copy: %s", res.Backup.Snapshot.Path)
				}

				ls, err := offsite.List(t.Context(), offsite.Destination{URL: u, Prefix: "prod"}, offsite.ListOptions{})
				if err != nil || len(ls) != 1 || ls[0].ID != stamp || !ls[0].Verified {
					t.Fatalf("List: %+v, %v", ls, err)
				}
				dir := filepath.Join(t.TempDir(), "fetched")
				got, err := offsite.Fetch(t.Context(), stamp, dir, offsite.FetchOptions{
					Source:     offsite.Destination{URL: u, Prefix: "prod"},
					Resources:  &offsite.Destination{URL: u, Prefix: "keys"},
					Identities: []age.Identity{snapID, resID},
				})
				if err != nil {
					t.Fatal(err)
				}
				if got.Snapshot.SHA256 != snap.SHA256 || got.Manifest == nil {
					t.Errorf("fetched %+v", got)
				}
				// Both large files written on this machine went to the
				// disk while they arrived (internal/writeback).
				if got.Snapshot.Size < writeback.Chunk {
					t.Fatalf("a snapshot of %d bytes is too small to show writeback", got.Snapshot.Size)
				}
				var fetched []writebacktest.Call // written in Fetch's staging directory, then renamed
				for _, c := range hints.Calls(snap.Name) {
					if local == "" || !strings.HasPrefix(c.File, local+string(filepath.Separator)) {
						fetched = append(fetched, c)
					}
				}
				writebacktest.Check(t, fetched, got.Snapshot.Size)
				if tee {
					writebacktest.Check(t, hints.Calls(filepath.Join(local, snap.Name)), got.Snapshot.Size)
					sameFile(t, filepath.Join(local, snap.Name), got.Snapshot.Path)
					sameFile(t, filepath.Join(local, got.Resources.Name), got.Resources.Path)
				}

				// The same stamp again is refused, and touches nothing.
				_, err = offsite.Stream(t.Context(), cli, offsite.StreamOptions{
					Host:        hosttest.NewDir("master-0", root, hosttest.DirOptions{}),
					Config:      healthyConfig(testNow),
					Destination: offsite.Destination{URL: u, Prefix: "prod", Recipients: []string{snapID.Recipient().String()}},
					Now:         func() time.Time { return testNow },
				})
				if !errors.Is(err, offsite.ErrExists) {
					t.Fatalf("second Stream with the same stamp: %v, want ErrExists", err)
				}
			})
		}
	}
}

// A storage that fails in the middle of the snapshot's multipart upload
// leaves no backup a reader would take and no local file; with retries,
// the snapshot is taken again and the backup completes.
func TestStreamServerFailsMidUpload(t *testing.T) {
	s3 := startWeed(t)
	cli := realEtcd(t, 12)
	proxy := startFaultProxy(t, s3.Endpoint)
	key := newIdentity(t)
	dest := offsite.Destination{URL: s3.URL(proxy.URL), Recipients: []string{key.Recipient().String()}}
	root := masterRoot(t)
	opts := func(local string, r offsite.RetryOptions, at time.Time) offsite.StreamOptions {
		return offsite.StreamOptions{
			Host: hosttest.NewDir("master-0", root, hosttest.DirOptions{}), Config: healthyConfig(at),
			Destination: dest, PartSize: 5 << 20, Concurrency: 1, Retry: r, LocalDir: local,
			Now: func() time.Time { return at },
		}
	}

	t.Run("fails, leaves nothing", func(t *testing.T) {
		proxy.bytes.Store(0)
		proxy.failAfter.Store(7 << 20)
		local := filepath.Join(t.TempDir(), "backup")
		_, err := offsite.Stream(t.Context(), cli, opts(local, offsite.RetryOptions{MaxAttempts: 1}, testNow))
		var oe *offsite.ObjectError
		if err == nil || !errors.As(err, &oe) {
			t.Fatalf("err = %v, want an *ObjectError", err)
		}
		if !proxy.failing.Load() {
			t.Fatal("the proxy injected no failure")
		}
		proxy.failing.Store(false)
		ls, err := offsite.List(t.Context(), offsite.Destination{URL: s3.URL("")}, offsite.ListOptions{})
		if err != nil || len(ls) != 0 {
			t.Fatalf("List after a failed stream: %+v, %v", ls, err)
		}
		if entries, err := os.ReadDir(local); err != nil || len(entries) != 0 {
			t.Fatalf("local copy of a failed stream: %v, %v", entries, err)
		}
	})

	t.Run("transient failure: the snapshot is taken again", func(t *testing.T) {
		at := testNow.Add(time.Hour)
		proxy.bytes.Store(0)
		proxy.failures.Store(0)
		proxy.healAfter.Store(3)
		proxy.failAfter.Store(7 << 20)
		var attempts []string
		snapName := backup.SnapshotFileName(backup.Timestamp(at), false)
		ctx := plan.WithReport(t.Context(), func(e plan.Event) {
			if strings.HasPrefix(e.Message, "streaming "+snapName) && !slices.Contains(attempts, e.Message) {
				attempts = append(attempts, e.Message)
			}
		})
		res, err := offsite.Stream(ctx, cli, opts("", offsite.RetryOptions{MaxAttempts: 5, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second}, at))
		if err != nil {
			t.Fatal(err)
		}
		if proxy.failures.Load() < 3 || len(attempts) < 2 {
			t.Fatalf("the proxy injected %d failures; snapshot attempts %v", proxy.failures.Load(), attempts)
		}
		got, err := offsite.Fetch(t.Context(), res.Manifest.ID, t.TempDir(), offsite.FetchOptions{Source: dest, Identities: []age.Identity{key}})
		if err != nil {
			t.Fatal(err)
		}
		if got.Snapshot.SHA256 != res.Manifest.Object(offsite.RoleSnapshot).SHA256 {
			t.Errorf("fetched snapshot %s, manifest %s", got.Snapshot.SHA256, res.Manifest.Object(offsite.RoleSnapshot).SHA256)
		}
	})
}

// Invalid options and failed pre-checks are refused before anything is
// written to the destination.
func TestStreamRefusals(t *testing.T) {
	key := newIdentity(t).Recipient().String()
	root := masterRoot(t)
	h := hosttest.NewDir("master-0", root, hosttest.DirOptions{})
	progressing := healthyConfig(testNow)
	co, err := progressing.ConfigV1().ClusterOperators().Get(t.Context(), "etcd", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	co.Status.Conditions[1].Status = configv1.ConditionTrue
	if _, err := progressing.ConfigV1().ClusterOperators().UpdateStatus(t.Context(), co, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mutate  func(o *offsite.StreamOptions)
		wantErr error
	}{
		{name: "no host", mutate: func(o *offsite.StreamOptions) { o.Host = nil }, wantErr: lifeboat.ErrInvalidOptions},
		{name: "no config without force", mutate: func(o *offsite.StreamOptions) { o.Config = nil }, wantErr: lifeboat.ErrInvalidOptions},
		{name: "no recipients", mutate: func(o *offsite.StreamOptions) { o.Destination.Recipients = nil }, wantErr: lifeboat.ErrInvalidOptions},
		{name: "bad zstd level", mutate: func(o *offsite.StreamOptions) { o.ZstdLevel = 23 }, wantErr: lifeboat.ErrInvalidOptions},
		{name: "negative concurrency", mutate: func(o *offsite.StreamOptions) { o.Concurrency = -1 }, wantErr: lifeboat.ErrInvalidOptions},
		{name: "operator progressing", mutate: func(o *offsite.StreamOptions) { o.Config = progressing }, wantErr: backup.ErrOperatorProgressing},
		{name: "cluster too young", mutate: func(o *offsite.StreamOptions) { o.MinClusterAge = 100 * time.Hour }, wantErr: backup.ErrTooEarly},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			o := offsite.StreamOptions{
				Host: h, Config: healthyConfig(testNow), Now: func() time.Time { return testNow },
				Destination: offsite.Destination{URL: "file://" + store, Recipients: []string{key}},
			}
			tc.mutate(&o)
			_, err := offsite.Stream(t.Context(), unreachableEtcd{}, o)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if entries, _ := os.ReadDir(store); len(entries) != 0 {
				t.Errorf("the destination holds %d entries", len(entries))
			}
		})
	}
}

// unreachableEtcd is an etcd client whose every call fails: the
// refusals above must come before any.
type unreachableEtcd struct{}

var errUnreachable = errors.New("etcd must not be called")

func (unreachableEtcd) Endpoints() []string { return []string{"https://192.0.2.1:2379"} }
func (unreachableEtcd) Status(context.Context, string) (*clientv3.StatusResponse, error) {
	return nil, errUnreachable
}
func (unreachableEtcd) MemberList(context.Context, ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	return nil, errUnreachable
}
func (unreachableEtcd) SnapshotWithVersion(context.Context) (*clientv3.SnapshotResponse, error) {
	return nil, errUnreachable
}
