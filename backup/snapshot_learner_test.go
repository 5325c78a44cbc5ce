package backup

import (
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// TestSnapshotSkipsLearner: with one voter and a started learner (a master
// the etcd operator is still adding), the snapshot comes from the voter
// even when the learner is the first endpoint; the learner asked for
// explicitly is refused with ErrNoHealthyMember.
func TestSnapshotSkipsLearner(t *testing.T) {
	c := clustertest.StartEtcd(t, clustertest.EtcdOptions{Members: 1})
	learner, err := c.AddLearner(t.Context(), "master-1")
	if err != nil {
		t.Fatal(err)
	}
	voter := c.Members[0]
	tests := []struct {
		name      string
		endpoints []string
		endpoint  string
		wantErr   error
	}{
		{name: "learner first", endpoints: []string{learner.ClientURL, voter.ClientURL}},
		{name: "voter first", endpoints: []string{voter.ClientURL, learner.ClientURL}},
		{name: "learner asked for", endpoints: []string{voter.ClientURL, learner.ClientURL}, endpoint: learner.ClientURL, wantErr: ErrNoHealthyMember},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli, err := c.Client(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer cli.Close()
			cli.SetEndpoints(tc.endpoints...)
			dir := t.TempDir()
			res, err := Snapshot(t.Context(), cli, dir, SnapshotOptions{Endpoint: tc.endpoint})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Member.Endpoint != voter.ClientURL || res.Member.Name != voter.Name {
				t.Fatalf("snapshot from %s (%s), want the voter %s", res.Member.Name, res.Member.Endpoint, voter.ClientURL)
			}
		})
	}
}
