package etcdconn_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/etcdconn"
)

// TestLearnerEndpoints: a client built from every member's endpoint, a
// learner's included (what ETCDCTL_ENDPOINTS holds while the etcd
// operator adds a master), keeps only the voting members' endpoints, so
// linearizable requests and member management never go to the learner; a
// learner alone is ErrOnlyLearners.
func TestLearnerEndpoints(t *testing.T) {
	cluster := clustertest.StartEtcd(t, clustertest.EtcdOptions{Members: 1})
	learner, err := cluster.AddLearner(t.Context(), "master-1")
	if err != nil {
		t.Fatal(err)
	}
	files := cluster.ClientTLS()
	cfg := etcdconn.Config{Endpoints: cluster.Endpoints(), CAFile: files.CAFile, CertFile: files.CertFile, KeyFile: files.KeyFile}

	tests := []struct {
		name      string
		endpoints []string
		want      []string
		kind      error
	}{
		{name: "learner listed first", endpoints: []string{learner.ClientURL, cluster.Members[0].ClientURL}, want: []string{cluster.Members[0].ClientURL}},
		{name: "learner listed last", endpoints: cluster.Endpoints(), want: []string{cluster.Members[0].ClientURL}},
		{name: "learner alone", endpoints: []string{learner.ClientURL}, kind: etcdconn.ErrOnlyLearners},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			c.Endpoints = tt.endpoints
			c.DialTimeout = 10 * time.Second
			cli, err := etcdconn.New(t.Context(), c)
			if tt.kind != nil {
				if err == nil {
					cli.Close()
					t.Fatalf("New succeeded with endpoints %v", tt.endpoints)
				}
				if !errors.Is(err, tt.kind) {
					t.Fatalf("err = %v, want %v", err, tt.kind)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			if got := cli.Endpoints(); !slices.Equal(got, tt.want) {
				t.Fatalf("client endpoints %v, want %v (no learner)", got, tt.want)
			}
			roundTrip(t, cli, "/etcdconn/learner")
			resp, err := cli.MemberList(t.Context())
			if err != nil {
				t.Fatalf("linearizable member list: %v", err)
			}
			if len(resp.Members) != 2 {
				t.Fatalf("%d members, want 2", len(resp.Members))
			}
		})
	}
}
