package etcdtest

import (
	"errors"
	"testing"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins the package's sentinels, and produces
// each through Status: a member that is down, an endpoint no member has.
func TestSentinelsAreDistinct(t *testing.T) {
	errtest.Sentinels(t, map[string]error{"ErrMemberDown": ErrMemberDown, "ErrUnknownEndpoint": ErrUnknownEndpoint})

	c := NewCluster("m0", "m1").Down("m1")
	eps := c.Endpoints()
	for _, tc := range []struct {
		name, endpoint string
		want           error
	}{
		{"member down", eps[1], ErrMemberDown},
		{"unknown endpoint", "https://10.9.9.9:2379", ErrUnknownEndpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Status(t.Context(), tc.endpoint); !errors.Is(err, tc.want) {
				t.Fatalf("Status(%s) = %v, want %v", tc.endpoint, err, tc.want)
			}
		})
	}
}
