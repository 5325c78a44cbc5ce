package lifecycle

import (
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestReachableConfigRefusesBadArguments: nothing to probe, a nil master
// (which panicked) and a negative probe timeout are refused with a
// *lifeboat.OptionsError before any probe, not reported as an
// unreachable API with no attempt.
func TestReachableConfigRefusesBadArguments(t *testing.T) {
	ctx := t.Context()
	third := func(_ *rest.Config, _ string, err error) error { return err }
	m := host.NewLocal("master-0", t.TempDir(), host.LocalOptions{})
	errtest.OptionNames(t, []errtest.Option{
		{Name: "nothing to probe", Err: third(ReachableConfig(ctx, nil, nil, ReachableOptions{})), Want: "lifecycle.ReachableConfig masters"},
		{Name: "nil master", Err: third(ReachableConfig(ctx, nil, []host.Host{m, nil}, ReachableOptions{})), Want: "lifecycle.ReachableConfig masters"},
		{Name: "negative probe timeout", Err: third(ReachableConfig(ctx, nil, []host.Host{m}, ReachableOptions{ProbeTimeout: -time.Second})), Want: "lifecycle.ReachableOptions.ProbeTimeout"},
	})
}
