package clustertest

import (
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
	"github.com/lifeboat-dev/lifeboat/release"
)

// TestNewRefusesBadOptions: options New cannot use are a
// *lifeboat.OptionsError naming them (they were plain errors, and a
// negative Interval was taken as the default), returned before anything
// starts: no Dir is created.
func TestNewRefusesBadOptions(t *testing.T) {
	dir := t.TempDir() + "/never-created"
	start := func(o Options) error {
		o.Dir = dir
		o.Binaries = &Binaries{Etcd: "/nonexistent/etcd", KubeAPIServer: "/nonexistent/kube-apiserver"}
		_, err := New(t.Context(), o)
		return err
	}
	badRelease := start(Options{Release: "4.x"})
	errtest.OptionNames(t, []errtest.Option{
		{Name: "negative masters", Err: start(Options{Masters: -1}), Want: "clustertest.Options.Masters"},
		{Name: "negative interval", Err: start(Options{Interval: -time.Second}), Want: "clustertest.Options.Interval"},
		{Name: "unknown machine set state", Err: start(Options{ControlPlaneMachineSet: "active"}), Want: "clustertest.Options.ControlPlaneMachineSet"},
		{Name: "machine set with 4 masters", Err: start(Options{Masters: 4, ControlPlaneMachineSet: "Active"}), Want: "",
			Fields: []string{"clustertest.Options.ControlPlaneMachineSet", "clustertest.Options.Masters"}},
		{Name: "release and version differ", Err: start(Options{Release: "4.14.8", ClusterVersion: "4.14.9"}), Want: "",
			Fields: []string{"clustertest.Options.Release", "clustertest.Options.ClusterVersion"}},
		{Name: "release does not parse", Err: badRelease, Want: "clustertest.Options.Release"},
	})
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Dir %s exists after refusals (stat: %v)", dir, err)
	}
	if !errors.Is(badRelease, release.ErrInvalidVersion) {
		t.Errorf("New(Release 4.x) = %v, want release.ErrInvalidVersion as its cause", badRelease)
	}
}
