package certs

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat"
)

// panicHandler is a slog.Handler whose Handle panics.
type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool  { return true }
func (panicHandler) Handle(context.Context, slog.Record) error { panic("log sink broke") }

// TestApproveRecoversPanics: a kube client or a logger that panics on the
// goroutine reviewing one CSR fails that CSR with ErrPanicked instead of
// the process; the call returns every decision.
func TestApproveRecoversPanics(t *testing.T) {
	for _, tc := range []struct {
		name         string
		setup        func(kube *k8stesting.Fake, opts *ApproveOptions)
		wantOutcome  Outcome
		wantApproved bool
	}{
		{"kube", func(kube *k8stesting.Fake, _ *ApproveOptions) {
			kube.PrependReactor("update", "certificatesigningrequests", func(k8stesting.Action) (bool, runtime.Object, error) {
				panic("fake apiserver broke")
			})
		}, Skipped, false},
		{"logger", func(_ *k8stesting.Fake, opts *ApproveOptions) {
			opts.Logger = slog.New(panicHandler{})
		}, Approved, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kube, machines := fakes(t, clientCSR(t, "new-node", "worker-new", t0.Add(3*time.Hour)))
			opts := ApproveOptions{}
			tc.setup(&kube.Fake, &opts)
			ds, err := ApproveNodeBootstrapperCSRs(t.Context(), kube, machines, opts)
			var pe *lifeboat.PanicError
			if !errors.Is(err, lifeboat.ErrPanicked) || !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *lifeboat.PanicError", err)
			}
			if len(ds) != 1 || ds[0].Name != "new-node" || ds[0].Outcome != tc.wantOutcome {
				t.Errorf("decisions %+v, want new-node %s", ds, tc.wantOutcome)
			}
			if got := isApproved(getCSR(t, kube, "new-node")); got != tc.wantApproved {
				t.Errorf("approved = %v, want %v", got, tc.wantApproved)
			}
		})
	}
}
