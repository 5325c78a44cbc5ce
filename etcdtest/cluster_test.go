package etcdtest_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/member"
)

// The fakes go where the packages' interfaces are consumed.
var (
	_ member.Cluster        = (*etcdtest.Cluster)(nil)
	_ member.HealthChecker  = (*etcdtest.Cluster)(nil)
	_ backup.SnapshotClient = (*etcdtest.Cluster)(nil)
	_ member.Cluster        = etcdtest.Wrap(nil, etcdtest.Funcs{})
	_ backup.SnapshotClient = etcdtest.Wrap(nil, etcdtest.Funcs{})
)

func names(t *testing.T, c etcdtest.Client) []string {
	t.Helper()
	resp, err := c.MemberList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range resp.Members {
		out = append(out, m.Name)
	}
	return out
}

func TestClusterMembership(t *testing.T) {
	c := etcdtest.NewCluster("master-0", "master-1", "master-2")
	ctx := t.Context()
	if got := c.Endpoints(); !slices.Equal(got, []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379", "https://10.0.0.3:2379"}) {
		t.Fatalf("Endpoints = %v", got)
	}
	m1 := c.Member("master-1")
	if m1 == nil || m1.ID != 0x1001 || m1.PeerURLs[0] != "https://10.0.0.2:2380" {
		t.Fatalf("master-1 = %v", m1)
	}
	m1.Name = "changed" // a copy
	if _, err := c.MemberRemove(ctx, 0x1001); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MemberRemove(ctx, 0x1001); !errors.Is(err, rpctypes.ErrMemberNotFound) {
		t.Fatalf("second remove = %v, want rpctypes.ErrMemberNotFound", err)
	}
	if got := names(t, c); !slices.Equal(got, []string{"master-0", "master-2"}) {
		t.Fatalf("members = %v", got)
	}
	if got := c.Removed(); !slices.Equal(got, []uint64{0x1001}) {
		t.Fatalf("Removed = %x", got)
	}
	c.SetLearner("master-2", true)
	if !c.Member("master-2").IsLearner {
		t.Fatal("master-2 is not a learner")
	}
}

func TestClusterHealthAndStatus(t *testing.T) {
	c := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-1").SetRevision(42).SetStatusErrors("master-2", "NOSPACE").SetLeader("master-2")
	ctx := t.Context()
	tests := []struct {
		name      string
		url       string
		wantErr   error
		wantID    uint64
		wantAlarm []string
	}{
		{name: "up", url: "https://10.0.0.1:2379", wantID: 0x1000},
		{name: "down", url: "https://10.0.0.2:2379", wantErr: etcdtest.ErrMemberDown},
		{name: "alarm", url: "https://10.0.0.3:2379", wantID: 0x1002, wantAlarm: []string{"NOSPACE"}},
		{name: "unknown", url: "https://10.0.0.9:2379", wantErr: etcdtest.ErrUnknownEndpoint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.CheckHealth(ctx, tc.url)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CheckHealth = %v, want %v", err, tc.wantErr)
			}
			if err := c.CheckLearnerHealth(ctx, tc.url); !errors.Is(err, tc.wantErr) {
				t.Fatalf("CheckLearnerHealth = %v, want %v", err, tc.wantErr)
			}
			st, err := c.Status(ctx, tc.url)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Status = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if st.Header.MemberId != tc.wantID || st.Leader != 0x1002 || st.Header.Revision != 42 || !slices.Equal(st.Errors, tc.wantAlarm) || st.Version != etcdtest.DefaultVersion {
				t.Fatalf("Status = %+v", st)
			}
		})
	}
	c.Up("master-1")
	if err := c.CheckHealth(ctx, "https://10.0.0.2:2379"); err != nil {
		t.Fatalf("after Up: %v", err)
	}
}

func TestClusterSnapshot(t *testing.T) {
	data := make([]byte, 100<<10)
	for i := range data {
		data[i] = byte(i)
	}
	c := etcdtest.NewCluster("m").SetSnapshot(data, "3.6.0")
	resp, err := c.SnapshotWithVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Snapshot)
	if err != nil || !slices.Equal(got, data) || resp.Version != "3.6.0" {
		t.Fatalf("snapshot: %d bytes, version %q, %v", len(got), resp.Version, err)
	}
	if st, _ := c.Status(t.Context(), c.Endpoints()[0]); st.DbSize != int64(len(data)) {
		t.Fatalf("DbSize = %d", st.DbSize)
	}

	ctx, cancel := context.WithCancel(t.Context())
	resp, err = c.SnapshotWithVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	if _, err := resp.Snapshot.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := resp.Snapshot.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel = %v", err)
	}
}

func TestChunkReader(t *testing.T) {
	broken := errors.New("rpc error: code = Unavailable")
	r := &etcdtest.ChunkReader{Data: []byte("abcdefg"), Chunk: 3, Err: broken}
	var reads []string
	buf := make([]byte, 10)
	for {
		n, err := r.Read(buf)
		if err != nil {
			if !errors.Is(err, broken) {
				t.Fatalf("end = %v", err)
			}
			break
		}
		reads = append(reads, string(buf[:n]))
	}
	if !slices.Equal(reads, []string{"abc", "def", "g"}) {
		t.Fatalf("reads = %q", reads)
	}
}

func TestEveryMethodHonoursContext(t *testing.T) {
	c := etcdtest.NewCluster("m")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ep := "https://10.0.0.1:2379"
	errs := map[string]error{}
	_, errs["MemberList"] = c.MemberList(ctx)
	_, errs["MemberRemove"] = c.MemberRemove(ctx, 0x1000)
	_, errs["Status"] = c.Status(ctx, ep)
	errs["CheckHealth"] = c.CheckHealth(ctx, ep)
	errs["CheckLearnerHealth"] = c.CheckLearnerHealth(ctx, ep)
	_, errs["SnapshotWithVersion"] = c.SnapshotWithVersion(ctx)
	for name, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", name, err)
		}
	}
	if len(c.Removed()) != 0 {
		t.Error("a cancelled MemberRemove removed")
	}
}

func TestWrap(t *testing.T) {
	c := etcdtest.NewCluster("m0", "m1")
	errTimeout := errors.New("etcdserver: request timed out")
	var calls []string
	w := etcdtest.Wrap(c, etcdtest.Funcs{
		// A linearizable list times out; a serializable one answers.
		MemberList: func(ctx context.Context, next etcdtest.Client, opts ...clientv3.OpOption) (*clientv3.MemberListResponse, error) {
			calls = append(calls, "MemberList")
			if len(opts) == 0 {
				return nil, errTimeout
			}
			return next.MemberList(ctx, opts...)
		},
		Endpoints: func(etcdtest.Client) []string { calls = append(calls, "Endpoints"); return nil },
		Status: func(context.Context, etcdtest.Client, string) (*clientv3.StatusResponse, error) {
			calls = append(calls, "Status")
			return nil, errTimeout
		},
		MemberRemove: func(context.Context, etcdtest.Client, uint64) (*clientv3.MemberRemoveResponse, error) {
			calls = append(calls, "MemberRemove")
			return nil, errTimeout
		},
		SnapshotWithVersion: func(context.Context, etcdtest.Client) (*clientv3.SnapshotResponse, error) {
			calls = append(calls, "SnapshotWithVersion")
			return nil, errTimeout
		},
		CheckHealth: func(context.Context, etcdtest.Client, string) error {
			calls = append(calls, "CheckHealth")
			return errTimeout
		},
		CheckLearnerHealth: func(context.Context, etcdtest.Client, string) error {
			calls = append(calls, "CheckLearnerHealth")
			return errTimeout
		},
	})
	ctx := t.Context()
	if _, err := w.MemberList(ctx); !errors.Is(err, errTimeout) {
		t.Fatalf("linearizable list = %v", err)
	}
	if resp, err := w.MemberList(ctx, clientv3.WithSerializable()); err != nil || len(resp.Members) != 2 {
		t.Fatalf("serializable list = %v, %v", resp, err)
	}
	w.Endpoints()
	w.Status(ctx, "x")
	w.MemberRemove(ctx, 1)
	w.SnapshotWithVersion(ctx)
	w.CheckHealth(ctx, "x")
	w.CheckLearnerHealth(ctx, "x")
	want := []string{"MemberList", "MemberList", "Endpoints", "Status", "MemberRemove", "SnapshotWithVersion", "CheckHealth", "CheckLearnerHealth"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	if len(c.Removed()) != 0 {
		t.Fatal("the replaced MemberRemove reached the cluster")
	}
	// Nil fields delegate.
	d := etcdtest.Wrap(c, etcdtest.Funcs{})
	if got := names(t, d); !slices.Equal(got, []string{"m0", "m1"}) || len(d.Endpoints()) != 2 {
		t.Fatalf("delegated list = %v", got)
	}
	if _, err := d.MemberRemove(ctx, 0x1001); err != nil || !slices.Equal(c.Removed(), []uint64{0x1001}) {
		t.Fatalf("delegated remove: %v, removed %x", err, c.Removed())
	}
}
