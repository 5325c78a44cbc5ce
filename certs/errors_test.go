package certs

import (
	"context"
	"errors"
	"testing"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/internal/errtest"
)

// TestSentinelsAreDistinct pins every exported sentinel of the package:
// each one is its own failure kind (no two match each other with
// errors.Is) and survives %w wrapping with an operation and target.
func TestSentinelsAreDistinct(t *testing.T) {
	sentinels := map[string]error{
		"ErrMalformedRequest": ErrMalformedRequest,
	}
	errtest.Sentinels(t, sentinels)
}

// TestOptionsErrorNamesTheOption: a nil client is refused, not a panic,
// with a *lifeboat.OptionsError naming the argument of the function called.
func TestOptionsErrorNamesTheOption(t *testing.T) {
	call := func(_ any, err error) error { return err }
	errtest.OptionNames(t, []errtest.Option{
		{Name: "pending without kube", Err: call(PendingCSRs(t.Context(), nil)), Want: "certs.PendingCSRs kube"},
		{Name: "bootstrapper without kube", Err: call(ApproveNodeBootstrapperCSRs(t.Context(), nil, nil, ApproveOptions{})), Want: "certs.ApproveNodeBootstrapperCSRs kube"},
		{Name: "serving without kube", Err: call(ApproveKubeletServingCSRs(t.Context(), nil, nil, ApproveOptions{})), Want: "certs.ApproveKubeletServingCSRs kube"},
		{Name: "both without kube", Err: call(ApprovePendingCSRs(t.Context(), nil, nil, ApproveOptions{})), Want: "certs.ApprovePendingCSRs kube"},
		{Name: "negative parallel", Err: call(ApprovePendingCSRs(t.Context(), fake.NewClientset(), nil, ApproveOptions{Parallel: -1})), Want: "certs.ApproveOptions.Parallel"},
	})
}

// TestIsPendingNil: a nil CSR is not pending (IsPending panicked).
func TestIsPendingNil(t *testing.T) {
	if IsPending(nil) {
		t.Error("IsPending(nil) = true")
	}
}

// TestCancelledContextApprovesNothing: a context cancelled before the
// call makes no API call and approves nothing (with a client that ignores
// ctx, as the fake does, every valid CSR was approved and nil returned).
func TestCancelledContextApprovesNothing(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	kube, machines := fakes(t, mixedCSRs(t)...)
	kube.ClearActions()
	if _, err := ApproveNodeBootstrapperCSRs(ctx, kube, machines, ApproveOptions{Now: fixedNow}); !errors.Is(err, context.Canceled) {
		t.Errorf("ApproveNodeBootstrapperCSRs(cancelled) = %v, want context.Canceled", err)
	}
	if n := len(kube.Actions()); n != 0 {
		t.Errorf("ApproveNodeBootstrapperCSRs(cancelled) made %d API calls: %v", n, kube.Actions())
	}
}
