package restore

import (
	"strings"
	"testing"
)

// FuzzMemberFromEtcdPod parses arbitrary etcd-pod.yaml content (read from
// a host or a backup archive): an identity or an error, never a panic.
func FuzzMemberFromEtcdPod(f *testing.F) {
	good := etcdPodYAML("master-0", "https://10.0.0.10:2380", 3)
	f.Add([]byte(good))
	f.Add([]byte(strings.Replace(good, "--name=master-0", "--name=${NODE_NAME}", 1)))
	f.Add([]byte(strings.Replace(good, "    command:\n    - etcd\n", "    command:\n    - /bin/sh\n    - -c\n    - |\n      exec etcd \\\n", 1)))
	f.Add([]byte(`{"spec":{"containers":[{"name":"etcd","args":["--name","$X"],"env":[{"name":"X","value":"m"}]}]}}`))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("spec:\n  containers:\n  - name: etcd\n    command: [--name]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := memberFromEtcdPod(b)
		if err == nil && id.PeerURL != "" && strings.Contains(id.PeerURL, ",") {
			t.Fatalf("peer URL %q holds a list", id.PeerURL)
		}
	})
}

// FuzzParseRevisionJSON parses arbitrary revision.json content: a record
// whose MaxRaftIndex is at least every raftIndex entry, or an error.
func FuzzParseRevisionJSON(f *testing.F) {
	f.Add([]byte(`{"clusterId":"1234","raftIndex":{"https://10.0.0.3:2379":2345,"https://10.0.0.4:2379":2350},"maxRaftIndex":2350,"created":"2026-11-24T18:00:00Z"}`))
	f.Add([]byte(`{"raftIndex":{"a":18446744073709551615}}`))
	f.Add([]byte(`{"maxRaftIndex":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRevisionJSON(b)
		if err != nil {
			return
		}
		for _, v := range r.RaftIndex {
			if v > r.MaxRaftIndex {
				t.Fatalf("MaxRaftIndex %d below raftIndex %d", r.MaxRaftIndex, v)
			}
		}
	})
}
