package member

import (
	"slices"
	"testing"
)

func TestParseMembersAvailable(t *testing.T) {
	tests := []struct {
		name       string
		msg        string
		available  int
		total      int
		unhealthy  []string
		notStarted []string
		quorumLost bool
		wantErr    bool
	}{
		{name: "runbook example", msg: "2 of 3 members are available, ip-10-0-131-183.ec2.internal is unhealthy",
			available: 2, total: 3, unhealthy: []string{"ip-10-0-131-183.ec2.internal"}},
		{name: "all available", msg: "3 members are available", available: 3, total: 3},
		{name: "not started by peer host", msg: "2 of 3 members are available, 10.0.133.53 has not started",
			available: 2, total: 3, notStarted: []string{"10.0.133.53"}},
		{name: "several unhealthy and not started, interleaved", msg: "2 of 5 members are available, master-0 is unhealthy, 10.0.0.9 has not started, master-2 is unhealthy",
			available: 2, total: 5, unhealthy: []string{"master-0", "master-2"}, notStarted: []string{"10.0.0.9"}, quorumLost: true},
		{name: "quorum lost", msg: "1 of 3 members are available, master-0 is unhealthy, master-1 is unhealthy",
			available: 1, total: 3, unhealthy: []string{"master-0", "master-1"}, quorumLost: true},
		{name: "surrounding space", msg: " 3 members are available\n", available: 3, total: 3},
		{name: "garbage", msg: "etcdserver: request timed out", wantErr: true},
		{name: "empty", msg: "", wantErr: true},
		{name: "unknown entry", msg: "2 of 3 members are available, master-0 is sad", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseMembersAvailable(tc.msg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if a.Available != tc.available || a.Total != tc.total {
				t.Errorf("counts %d of %d, want %d of %d", a.Available, a.Total, tc.available, tc.total)
			}
			if !slices.Equal(a.Unhealthy, tc.unhealthy) || !slices.Equal(a.NotStarted, tc.notStarted) {
				t.Errorf("unhealthy %q not started %q, want %q %q", a.Unhealthy, a.NotStarted, tc.unhealthy, tc.notStarted)
			}
			if a.QuorumLost() != tc.quorumLost {
				t.Errorf("QuorumLost() = %v, want %v", a.QuorumLost(), tc.quorumLost)
			}
		})
	}
}
