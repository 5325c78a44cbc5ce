package member

import (
	"context"
	"errors"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/lifeboat-dev/lifeboat"
)

// panickyHealth panics for one client URL and finds the others healthy.
type panickyHealth string

func (p panickyHealth) CheckHealth(_ context.Context, url string) error {
	if url == string(p) {
		panic("health checker broke")
	}
	return nil
}

// TestCheckMembersRecoversAPanickingChecker: a HealthChecker that panics
// on the goroutine checkMembers starts fails that member's check instead
// of the process; the other members are checked as usual.
func TestCheckMembersRecoversAPanickingChecker(t *testing.T) {
	members := []*pb.Member{
		{ID: 1, Name: "master-0", ClientURLs: []string{"https://10.0.0.1:2379"}},
		{ID: 2, Name: "master-1", ClientURLs: []string{"https://10.0.0.2:2379"}},
	}
	hs := checkMembers(t.Context(), panickyHealth("https://10.0.0.2:2379"), members, 0)
	if !hs[0].Healthy || hs[0].Err != nil {
		t.Errorf("master-0: %+v, want healthy", hs[0])
	}
	var pe *lifeboat.PanicError
	if hs[1].Healthy || !errors.Is(hs[1].Err, lifeboat.ErrPanicked) || !errors.As(hs[1].Err, &pe) || pe.Value != "health checker broke" {
		t.Errorf("master-1: %+v, want a failed check with the checker's panic", hs[1])
	}
}
