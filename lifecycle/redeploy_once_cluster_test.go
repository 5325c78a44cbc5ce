package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	"k8s.io/client-go/rest"

	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// crashAfterPatch is a transport that lets the first PATCH of a
// forceRedeploymentReason reach the API server and then loses its answer,
// as a process killed right after sending it would.
type crashAfterPatch struct {
	next    http.RoundTripper
	mu      sync.Mutex
	crashed bool
}

func (c *crashAfterPatch) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodPatch || r.Body == nil {
		return c.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := c.next.RoundTrip(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || c.crashed || !bytes.Contains(body, []byte("forceRedeploymentReason")) {
		return resp, err
	}
	c.crashed = true
	resp.Body.Close()
	return nil, errors.New("injected: process killed after the patch reached the API server")
}

// TestForceRedeployOnceCrashOnClustertest simulates, for every operator of
// the simulated control plane, a crash after the patch of
// forceRedeploymentReason and before anything recorded the step: the
// resumed ForceRedeployOnce patches nothing, the wait uses the revision
// recorded before the patch, and the operator rolls out exactly one new
// revision.
func TestForceRedeployOnceCrashOnClustertest(t *testing.T) {
	t.Parallel() // its own cluster
	c := clustertest.Start(t, clustertest.Options{Workers: -1})
	for _, target := range []Operator{Etcd, KubeAPIServer, KubeControllerManager, KubeScheduler} {
		t.Run(string(target), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // catches a hang only
			defer cancel()
			if _, err := WaitAllNodesAtLatestRevision(ctx, c.Operator, target, WaitOptions{Logger: quietLogger}); err != nil {
				t.Fatal(err)
			}
			before, err := Revisions(ctx, c.Operator, target)
			if err != nil {
				t.Fatal(err)
			}
			cfg := rest.CopyConfig(c.RESTConfig)
			cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &crashAfterPatch{next: rt} })
			crashing, err := operatorclient.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			store := &memStore{}
			if _, _, err := ForceRedeployOnce(ctx, crashing, target, store, ForceRedeployOptions{Logger: quietLogger}); err == nil {
				t.Fatal("the crashing client's patch succeeded")
			}
			recorded := store.recs[target]
			if recorded.Reason == "" || recorded.AfterRevision != before.LatestAvailableRevision {
				t.Fatalf("record before the patch %+v, want a reason and revision %d", recorded, before.LatestAvailableRevision)
			}
			// Resume, as a new run with the persisted record.
			rec, patched, err := ForceRedeployOnce(ctx, c.Operator, target, store, ForceRedeployOptions{Logger: quietLogger})
			if err != nil {
				t.Fatal(err)
			}
			if patched || rec != recorded {
				t.Fatalf("resumed: patched %v, record %+v; want no patch and %+v", patched, rec, recorded)
			}
			rev, err := WaitAllNodesAtLatestRevision(ctx, c.Operator, target, WaitOptions{After: rec, Logger: quietLogger})
			if err != nil {
				t.Fatal(err)
			}
			after, err := Revisions(ctx, c.Operator, target)
			if err != nil {
				t.Fatal(err)
			}
			if rev != before.LatestAvailableRevision+1 || after.LatestAvailableRevision != rev || after.ForceRedeploymentReason != rec.Reason {
				t.Fatalf("revision %d -> %d (now %d, reason %q); want exactly one new revision for %q",
					before.LatestAvailableRevision, rev, after.LatestAvailableRevision, after.ForceRedeploymentReason, rec.Reason)
			}
		})
	}
}
