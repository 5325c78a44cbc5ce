package member

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestRemoveMember(t *testing.T) {
	tests := []struct {
		name        string
		etcd        *etcdtest.Cluster
		target      string
		id          uint64 // when target is ""
		force       bool
		wantErr     error
		wantRemoved bool
		wantAbsent  bool
	}{
		{name: "unhealthy member of three", etcd: etcdtest.NewCluster("a", "b", "c").Down("a"), target: "a", wantRemoved: true},
		{name: "healthy member refused", etcd: etcdtest.NewCluster("a", "b", "c"), target: "b", wantErr: ErrMemberHealthy},
		{name: "healthy member forced", etcd: etcdtest.NewCluster("a", "b", "c"), target: "b", force: true, wantRemoved: true},
		{name: "two down: removal would lose quorum", etcd: etcdtest.NewCluster("a", "b", "c").Down("a", "b"), target: "a", wantErr: ErrWouldLoseQuorum},
		{name: "two down forced", etcd: etcdtest.NewCluster("a", "b", "c").Down("a", "b"), target: "a", force: true, wantRemoved: true},
		{name: "five members, two down, remove one", etcd: etcdtest.NewCluster("a", "b", "c", "d", "e").Down("a", "b"), target: "a", wantRemoved: true},
		{name: "five members, three down", etcd: etcdtest.NewCluster("a", "b", "c", "d", "e").Down("a", "b", "c"), target: "a", wantErr: ErrWouldLoseQuorum},
		{name: "two members, one down: quorum already lost", etcd: etcdtest.NewCluster("a", "b").Down("a"), target: "a", wantErr: ErrQuorumLost},
		{name: "two of three down also says quorum lost", etcd: etcdtest.NewCluster("a", "b", "c").Down("a", "b"), target: "a", wantErr: ErrQuorumLost},
		{name: "absent member is success", etcd: etcdtest.NewCluster("a", "b", "c"), id: 0xdead, wantAbsent: true},
		{
			name: "unstarted member",
			etcd: func() *etcdtest.Cluster {
				f := etcdtest.NewCluster("b", "c")
				return f.Add(&pb.Member{ID: 0x77, PeerURLs: []string{"https://10.0.0.9:2380"}})
			}(),
			id: 0x77, wantRemoved: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			if tc.target != "" {
				id = tc.etcd.Member(tc.target).ID
			}
			before := len(tc.etcd.Members())
			res, err := RemoveMember(t.Context(), tc.etcd, id, RemoveOptions{Force: tc.force, Health: tc.etcd, Logger: quiet})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if len(tc.etcd.Removed()) != 0 || len(tc.etcd.Members()) != before {
					t.Fatalf("a refused removal removed %x", tc.etcd.Removed())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.AlreadyAbsent != tc.wantAbsent || (res.Removed != nil) != tc.wantRemoved {
				t.Fatalf("AlreadyAbsent %v Removed %v, want %v %v", res.AlreadyAbsent, res.Removed, tc.wantAbsent, tc.wantRemoved)
			}
			if tc.wantRemoved {
				if len(res.After) != before-1 || len(tc.etcd.Removed()) != 1 || tc.etcd.Removed()[0] != id {
					t.Fatalf("after %d members, removed %x", len(res.After), tc.etcd.Removed())
				}
				// Idempotent: a second call finds it gone.
				again, err := RemoveMember(t.Context(), tc.etcd, id, RemoveOptions{Health: tc.etcd, Logger: quiet})
				if err != nil || !again.AlreadyAbsent {
					t.Fatalf("second removal: %+v, %v", again, err)
				}
			}
		})
	}
}

func TestRemoveMemberRemoveFails(t *testing.T) {
	c := etcdtest.NewCluster("a", "b", "c").Down("a")
	f := etcdtest.Wrap(c, etcdtest.Funcs{
		MemberRemove: func(context.Context, etcdtest.Client, uint64) (*clientv3.MemberRemoveResponse, error) {
			return nil, errors.New("etcdserver: unhealthy cluster")
		},
	})
	_, err := RemoveMember(t.Context(), f, c.Member("a").ID, RemoveOptions{Health: f, Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "unhealthy cluster") {
		t.Fatalf("err = %v", err)
	}
}

func TestLookup(t *testing.T) {
	f := etcdtest.NewCluster("a", "b")
	m, err := lookup(t.Context(), f, "b")
	if err != nil || m.Name != "b" {
		t.Fatalf("Lookup(b) = %v, %v", m, err)
	}
	if _, err := lookup(t.Context(), f, "zz"); !errors.Is(err, ErrMemberNotFound) {
		t.Fatalf("Lookup(zz) err = %v, want ErrMemberNotFound", err)
	}
}

func TestMemberTable(t *testing.T) {
	members := []*pb.Member{
		{ID: 0x2943212f5e2cf73, Name: "b", PeerURLs: []string{"http://127.0.0.1:23802"}, ClientURLs: []string{"http://127.0.0.1:23792"}},
		{ID: 0x16bc5b7d7a48b15b, PeerURLs: []string{"http://127.0.0.1:23804"}},
		{ID: 0x9ffb738e0293dca7, PeerURLs: []string{"http://127.0.0.1:23803"}, IsLearner: true},
		{ID: 0xbdae9bbc11dd390d, Name: "a", PeerURLs: []string{"http://127.0.0.1:23801"}, ClientURLs: []string{"http://127.0.0.1:23791"}},
	}
	// Printed by etcdctl v3.7.3 "member list -w table" for these members.
	want := `┌──────────────────┬───────────┬──────┬────────────────────────┬────────────────────────┬────────────┐
│        ID        │  STATUS   │ NAME │       PEER ADDRS       │      CLIENT ADDRS      │ IS LEARNER │
├──────────────────┼───────────┼──────┼────────────────────────┼────────────────────────┼────────────┤
│  2943212f5e2cf73 │   started │    b │ http://127.0.0.1:23802 │ http://127.0.0.1:23792 │      false │
│ 16bc5b7d7a48b15b │ unstarted │      │ http://127.0.0.1:23804 │                        │      false │
│ 9ffb738e0293dca7 │ unstarted │      │ http://127.0.0.1:23803 │                        │       true │
│ bdae9bbc11dd390d │   started │    a │ http://127.0.0.1:23801 │ http://127.0.0.1:23791 │      false │
└──────────────────┴───────────┴──────┴────────────────────────┴────────────────────────┴────────────┘
`
	if got := MemberTable(members); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
