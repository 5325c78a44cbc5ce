package debugpod

import (
	"errors"
	"fmt"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestErrNotRunning pins the package's sentinel: it survives %w wrapping
// with an operation and target, and is not host's invalid-path kind.
func TestErrNotRunning(t *testing.T) {
	if ErrNotRunning == nil || ErrNotRunning.Error() == "" {
		t.Fatal("ErrNotRunning is nil or has no text")
	}
	w := fmt.Errorf("run on master-0: %w", ErrNotRunning)
	if !errors.Is(w, ErrNotRunning) {
		t.Error("ErrNotRunning does not survive wrapping")
	}
	if errors.Is(w, host.ErrInvalidPath) {
		t.Error("ErrNotRunning matches host.ErrInvalidPath")
	}
}

// TestOptionsErrorNamesTheOption: New refuses missing settings before any
// API call with a *lifeboat.OptionsError naming the field or argument.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	call := func(_ any, err error) error { return err }
	kube := fake.NewClientset()
	errtest.OptionNames(t, []errtest.Option{
		{Name: "no client", Err: call(New(t.Context(), nil, &rest.Config{}, Config{Node: "master-0"})), Want: "debugpod.New kube"},
		{Name: "no node", Err: call(New(t.Context(), kube, &rest.Config{}, Config{})), Want: "debugpod.Config.Node"},
		{Name: "no rest config", Err: call(New(t.Context(), kube, nil, Config{Node: "master-0"})), Want: "debugpod.New restConfig"},
	})
}
