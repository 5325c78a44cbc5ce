package hosttest_test

import (
	"strings"
	"testing"

	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestZeroDir: a Dir not made by NewDir refuses every operation with a
// *lifeboat.OptionsError naming "hosttest.Dir" (they panicked), and never
// carries one out on this machine. (RestartKubelet and Shutdown take the
// same path as Containers; they are not called here, so that a regression
// cannot restart or halt the machine running the test.)
func TestZeroDir(t *testing.T) {
	var d hosttest.Dir
	ctx := t.Context()
	second := func(_ any, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "read", Err: second(d.ReadFile(ctx, "/etc/hostname")), Want: "hosttest.Dir"},
		{Name: "open", Err: second(d.Open(ctx, "/etc/hostname")), Want: "hosttest.Dir"},
		{Name: "stat", Err: second(d.Stat(ctx, "/etc")), Want: "hosttest.Dir"},
		{Name: "readdir", Err: second(d.ReadDir(ctx, "/etc")), Want: "hosttest.Dir"},
		{Name: "write", Err: d.WriteFile(ctx, "/x", strings.NewReader("x"), 0o600), Want: "hosttest.Dir"},
		{Name: "mkdir", Err: d.MkdirAll(ctx, "/x", 0o700), Want: "hosttest.Dir"},
		{Name: "move", Err: d.Move(ctx, "/x", "/y"), Want: "hosttest.Dir"},
		{Name: "containers", Err: second(d.Containers(ctx, "etcd")), Want: "hosttest.Dir"},
	})
	if d.Name() != "" || d.Root() != "" {
		t.Errorf("zero Dir: Name %q, Root %q", d.Name(), d.Root())
	}
	if _, ok := d.LocalPath("/etc"); ok {
		t.Error("zero Dir: LocalPath maps a path")
	}
}
