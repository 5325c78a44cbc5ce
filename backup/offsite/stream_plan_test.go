package offsite_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// noEtcd fails the test on any call: a dry run must not reach etcd.
type noEtcd struct{ t *testing.T }

func (e noEtcd) Endpoints() []string { return []string{"https://192.0.2.1:2379"} }
func (e noEtcd) Status(context.Context, string) (*clientv3.StatusResponse, error) {
	e.t.Error("etcd Status called")
	return nil, errUnreachable
}
func (e noEtcd) MemberList(context.Context, ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
	e.t.Error("etcd MemberList called")
	return nil, errUnreachable
}
func (e noEtcd) SnapshotWithVersion(context.Context) (*clientv3.SnapshotResponse, error) {
	e.t.Error("etcd SnapshotWithVersion called")
	return nil, errUnreachable
}

// files lists the regular files under dir (a file:// bucket, a LocalDir),
// relative to it; a missing dir has none.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stepEvents records the status of each step's events, in order.
type stepEvents struct {
	statuses map[string][]plan.Status
	bytes    map[string][]plan.Event // Progress events with bytes, by step
}

func recordSteps() (*stepEvents, func(plan.Event)) {
	s := &stepEvents{statuses: map[string][]plan.Status{}, bytes: map[string][]plan.Event{}}
	return s, func(e plan.Event) {
		if e.Status == plan.Progress {
			if e.BytesDone > 0 || e.BytesTotal > 0 {
				s.bytes[e.Step.ID] = append(s.bytes[e.Step.ID], e)
			}
			return
		}
		s.statuses[e.Step.ID] = append(s.statuses[e.Step.ID], e.Status)
	}
}

func streamPlanOptions(t *testing.T, store, local string, key string) offsite.StreamOptions {
	return offsite.StreamOptions{
		Host:        hosttest.NewDir("master-0", masterRoot(t), hosttest.DirOptions{}),
		Config:      healthyConfig(testNow),
		Destination: offsite.Destination{URL: "file://" + store, Prefix: "prod", Recipients: []string{key}},
		LocalDir:    local,
		Now:         func() time.Time { return testNow },
	}
}

// A dry run checks the cluster and the destination and nothing else:
// no etcd call, nothing written to the bucket nor to LocalDir, the
// upload steps reported as WouldRun.
func TestStreamPlanDryRun(t *testing.T) {
	store, local := t.TempDir(), filepath.Join(t.TempDir(), "backup")
	opts := streamPlanOptions(t, store, local, newIdentity(t).Recipient().String())
	var res offsite.StreamResult
	opts.Result = &res
	p, err := offsite.StreamPlan(offsite.StreamDeps{Etcd: noEtcd{t}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	if want := []string{"precheck", "check-destination", "upload-resources", "upload-snapshot", "publish-manifest"}; !slices.Equal(ids, want) {
		t.Fatalf("steps %q, want %q", ids, want)
	}
	ev, report := recordSteps()
	if err := p.Run(t.Context(), plan.RunOptions{DryRun: true, Report: report}); err != nil {
		t.Fatal(err)
	}
	done := []plan.Status{plan.Started, plan.Done}
	would := []plan.Status{plan.WouldRun}
	for id, want := range map[string][]plan.Status{"precheck": done, "check-destination": done,
		"upload-resources": would, "upload-snapshot": would, "publish-manifest": would} {
		if !slices.Equal(ev.statuses[id], want) {
			t.Errorf("%s: events %v, want %v", id, ev.statuses[id], want)
		}
	}
	if f := files(t, store); len(f) != 0 {
		t.Errorf("a dry run wrote to the destination: %q", f)
	}
	if _, err := os.Stat(local); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a dry run created LocalDir: %v", err)
	}
	if res.Manifest != nil {
		t.Errorf("a dry run filled Result: %+v", res)
	}

	// Refusals before building: the etcd dependency is named.
	if _, err := offsite.StreamPlan(offsite.StreamDeps{}, opts); !errors.Is(err, lifeboat.ErrInvalidOptions) || !strings.Contains(err.Error(), "offsite.StreamDeps.Etcd") {
		t.Errorf("StreamPlan without etcd: %v", err)
	}
}

// A real run through the plan stores the backup Stream stores (the same
// manifest but for what encryption and time change), reports the
// snapshot's bytes as upload-snapshot's Progress events, fills Result;
// a dry run afterwards is refused with ErrExists, changing nothing.
func TestStreamPlanRun(t *testing.T) {
	cli := realEtcd(t, 6)
	id := newIdentity(t)
	key := id.Recipient().String()

	viaStream := t.TempDir()
	want, err := offsite.Stream(t.Context(), cli, streamPlanOptions(t, viaStream, "", key))
	if err != nil {
		t.Fatal(err)
	}

	store := t.TempDir()
	opts := streamPlanOptions(t, store, "", key)
	var res offsite.StreamResult
	opts.Result = &res
	p, err := offsite.StreamPlan(offsite.StreamDeps{Etcd: cli}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ev, report := recordSteps()
	if err := p.Run(t.Context(), plan.RunOptions{Report: report}); err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if got := ev.statuses[s.ID]; !slices.Equal(got, []plan.Status{plan.Started, plan.Done}) {
			t.Errorf("%s: events %v", s.ID, got)
		}
	}
	m := res.Manifest
	if m == nil || res.Backup == nil {
		t.Fatalf("Result not filled: %+v", res)
	}
	w := want.Manifest
	if m.ID != w.ID || m.Revision != w.Revision || m.EtcdVersion != w.EtcdVersion || m.ClusterVersion != w.ClusterVersion ||
		m.EncryptionEnabled != w.EncryptionEnabled || m.Verified != w.Verified || m.Kind != w.Kind || m.Format != w.Format ||
		len(m.Objects) != len(w.Objects) || m.Local == nil || m.Local.Snapshot.Name != w.Local.Snapshot.Name {
		t.Fatalf("plan's manifest %+v\nStream's %+v", m, w)
	}
	for i, o := range m.Objects {
		wo := w.Objects[i]
		if o.Name != wo.Name || o.Role != wo.Role || o.Destination != wo.Destination || o.Codec != wo.Codec || o.Key != wo.Key {
			t.Errorf("object %d: %+v, Stream's %+v", i, o, wo)
		}
	}
	snap := m.Object(offsite.RoleSnapshot)
	evs := ev.bytes["upload-snapshot"]
	if len(evs) < 2 || evs[0].Message != "streaming "+snap.Name || evs[0].BytesTotal < 6<<20 {
		t.Fatalf("upload-snapshot byte events %+v", evs)
	}
	if last := evs[len(evs)-1]; last.BytesDone != snap.Size || last.BytesTotal != snap.Size {
		t.Errorf("last byte event %+v, want %d of %d", last, snap.Size, snap.Size)
	}
	got, err := offsite.Fetch(t.Context(), m.ID, t.TempDir(), offsite.FetchOptions{
		Source: offsite.Destination{URL: "file://" + store, Prefix: "prod"}, Identities: []age.Identity{id}})
	if err != nil || got.Snapshot.SHA256 != snap.SHA256 {
		t.Fatalf("Fetch: %+v, %v", got, err)
	}

	before := files(t, store)
	p2, err := offsite.StreamPlan(offsite.StreamDeps{Etcd: noEtcd{t}}, streamPlanOptions(t, store, "", key))
	if err != nil {
		t.Fatal(err)
	}
	err = p2.Run(t.Context(), plan.RunOptions{DryRun: true})
	if !errors.Is(err, offsite.ErrExists) || !errors.Is(err, plan.ErrNothingChanged) {
		t.Fatalf("dry run over an existing backup: %v, want ErrExists and ErrNothingChanged", err)
	}
	if !slices.Equal(files(t, store), before) {
		t.Errorf("the refused dry run changed the destination")
	}
}

// failingSnapshot is an etcd client whose snapshot stream breaks after
// some bytes.
type failingSnapshot struct {
	backup.SnapshotClient
	after int64
}

var errBroken = errors.New("snapshot stream broken by the test")

func (f failingSnapshot) SnapshotWithVersion(ctx context.Context) (*clientv3.SnapshotResponse, error) {
	r, err := f.SnapshotClient.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, err
	}
	r.Snapshot = brokenReader{io.LimitReader(r.Snapshot, f.after), r.Snapshot}
	return r, nil
}

type brokenReader struct {
	io.Reader
	c io.Closer
}

func (b brokenReader) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		return n, errBroken
	}
	return n, err
}

func (b brokenReader) Close() error { return b.c.Close() }

// A run that fails in upload-snapshot, after the resources object was
// stored, leaves no object, no manifest and no local file; a run
// cancelled between two steps rolls back too.
func TestStreamPlanRollback(t *testing.T) {
	cli := realEtcd(t, 6)
	key := newIdentity(t).Recipient().String()

	t.Run("upload-snapshot fails", func(t *testing.T) {
		store, local := t.TempDir(), filepath.Join(t.TempDir(), "backup")
		p, err := offsite.StreamPlan(offsite.StreamDeps{Etcd: failingSnapshot{cli, 3 << 20}}, streamPlanOptions(t, store, local, key))
		if err != nil {
			t.Fatal(err)
		}
		var stored []string // the destination's files when upload-resources was done
		ev, record := recordSteps()
		err = p.Run(t.Context(), plan.RunOptions{Report: func(e plan.Event) {
			record(e)
			if e.Step.ID == "upload-resources" && e.Status == plan.Done {
				stored = files(t, store)
			}
		}})
		var se *plan.StepError
		if !errors.As(err, &se) || se.Step != "upload-snapshot" || !errors.Is(err, errBroken) {
			t.Fatalf("err = %v, want upload-snapshot's failure", err)
		}
		if len(stored) == 0 || len(ev.bytes["upload-snapshot"]) == 0 {
			t.Fatalf("the run failed before writing (stored %q, snapshot events %d): the test shows nothing", stored, len(ev.bytes["upload-snapshot"]))
		}
		if f := files(t, store); len(f) != 0 {
			t.Errorf("the failed run left %q at the destination", f)
		}
		if f := files(t, local); len(f) != 0 {
			t.Errorf("the failed run left %q in LocalDir", f)
		}
	})

	t.Run("cancelled between steps", func(t *testing.T) {
		store := t.TempDir()
		p, err := offsite.StreamPlan(offsite.StreamDeps{Etcd: noEtcd{t}}, streamPlanOptions(t, store, "", key))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		var stored []string
		err = p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) {
			if e.Step.ID == "upload-resources" && e.Status == plan.Done {
				stored = files(t, store)
				cancel()
			}
		}})
		if !errors.Is(err, context.Canceled) || len(stored) == 0 {
			t.Fatalf("err = %v, stored %q: want a cancel after the resources were stored", err, stored)
		}
		// The plan's Finally rolled back before Run returned.
		if f := files(t, store); len(f) != 0 {
			t.Errorf("the cancelled run left %q at the destination", f)
		}
	})

	t.Run("report panics", func(t *testing.T) {
		store := t.TempDir()
		p, err := offsite.StreamPlan(offsite.StreamDeps{Etcd: noEtcd{t}}, streamPlanOptions(t, store, "", key))
		if err != nil {
			t.Fatal(err)
		}
		var stored []string
		err = p.Run(t.Context(), plan.RunOptions{Report: func(e plan.Event) {
			if e.Step.ID == "upload-resources" && e.Status == plan.Done {
				stored = files(t, store)
				panic("a renderer bug")
			}
		}})
		if !errors.Is(err, lifeboat.ErrPanicked) || len(stored) == 0 {
			t.Fatalf("err = %v, stored %q: want the report's panic after the resources were stored", err, stored)
		}
		if f := files(t, store); len(f) != 0 {
			t.Errorf("the run stopped by a panicking report left %q at the destination", f)
		}
	})
}

// finishedState is a plan.State recording some steps as finished.
type finishedState map[string]bool

func (s finishedState) Finished(context.Context) (map[string]bool, error) { return s, nil }
func (s finishedState) MarkFinished(_ context.Context, id string) error   { s[id] = true; return nil }

// A stream cannot resume: a run whose State skips the checks (so the
// destination was not opened in this run) fails at the first step that
// writes, with ErrStreamNotResumable, and writes nothing.
func TestStreamPlanNotResumable(t *testing.T) {
	store := t.TempDir()
	p, err := offsite.StreamPlan(offsite.StreamDeps{Etcd: noEtcd{t}}, streamPlanOptions(t, store, "", newIdentity(t).Recipient().String()))
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(t.Context(), plan.RunOptions{State: finishedState{"precheck": true, "check-destination": true}})
	var se *plan.StepError
	if !errors.Is(err, offsite.ErrStreamNotResumable) || !errors.As(err, &se) || se.Step != "upload-resources" {
		t.Fatalf("err = %v, want upload-resources failing with ErrStreamNotResumable", err)
	}
	if f := files(t, store); len(f) != 0 {
		t.Errorf("the refused run wrote %q", f)
	}
}
