package restore

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/lifecycle"
)

// TestServerVersionHonoursContext: the API check of wait-single-member
// returns when its context ends, against a server that never answers
// (Discovery().ServerVersion() takes no context and waited for it).
func TestServerVersionHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	kube, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cancelled before", "cancelled during"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if name == "cancelled before" {
				cancel()
			} else {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			done := make(chan error, 1)
			go func() {
				_, err := serverVersion(ctx, kube)
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
			case <-time.After(2 * time.Minute): // catches a hang only
				t.Fatal("serverVersion did not return after its context ended")
			}
		})
	}
}

// TestForceRedeployResumedAfterCrash simulates a crash between the patch of
// forceRedeploymentReason and the record of the step: the patch reaches the
// API, the step fails. The resumed run must not patch again: exactly one
// new revision per operator, and each wait on the revision from before the
// patch.
func TestForceRedeployResumedAfterCrash(t *testing.T) {
	f := newFixture(t)
	opts := f.options("master-0")
	ctx := t.Context()
	before := map[string]int32{}
	for _, op := range []lifecycle.Operator{lifecycle.Etcd, lifecycle.KubeAPIServer, lifecycle.KubeControllerManager, lifecycle.KubeScheduler} {
		st, err := lifecycle.Revisions(ctx, f.ops, op)
		if err != nil {
			t.Fatal(err)
		}
		before[string(op)] = st.LatestAvailableRevision
	}
	runCtx, crash := context.WithCancel(ctx)
	defer crash()
	var mu sync.Mutex
	crashed := false
	patches := map[string]int{}
	f.ops.PrependReactor("patch", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.PatchAction)
		if !strings.Contains(string(p.GetPatch()), "forceRedeploymentReason") {
			return false, nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		patches[p.GetResource().Resource]++
		if crashed {
			return false, nil, nil
		}
		crashed = true
		// The patch reaches the API server, then the process dies before
		// it hears the answer or records anything.
		if _, _, err := clienttesting.ObjectReaction(f.ops.Tracker())(a); err != nil {
			t.Error(err)
		}
		crash()
		return true, nil, errors.New("injected: process killed after the patch was applied")
	})
	if _, err := runJob(runCtx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("crashed run: err = %v, want it cancelled at force-redeploy/etcd", err)
	}
	if d, _ := newState(f.hosts["master-0"], "").Get(ctx); d.Finished["wait-single-member"].IsZero() || !d.Finished["force-redeploy/etcd"].IsZero() {
		t.Fatalf("the crash did not happen at force-redeploy/etcd: finished %v", d.Finished)
	}
	final, err := runJob(ctx, opts)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	for res, n := range patches {
		if n != 1 {
			t.Errorf("%s: forceRedeploymentReason patched %d times, want once", res, n)
		}
	}
	for op, rev := range before {
		st, err := lifecycle.Revisions(ctx, f.ops, lifecycle.Operator(op))
		if err != nil {
			t.Fatal(err)
		}
		if st.LatestAvailableRevision != rev+1 {
			t.Errorf("%s: latest revision %d, want exactly one new revision after %d", op, st.LatestAvailableRevision, rev)
		}
	}
	// The finished run retired its state: read the retired file.
	if final.RetiredTo == "" {
		t.Fatal("the resumed run finished but did not retire its state")
	}
	d, err := newState(f.hosts["master-0"], final.RetiredTo).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec := d.Redeploys["etcd"]; rec.AfterRevision != before["etcd"] || rec.Reason == "" {
		t.Errorf("recorded etcd redeployment %+v, want the reason and revision %d", rec, before["etcd"])
	}
}
