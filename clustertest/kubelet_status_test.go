package clustertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// hangingAPI is an API server that accepts every request and never
// answers until release is closed (an API server whose etcd lost quorum).
type hangingAPI struct {
	srv      *httptest.Server
	release  chan struct{}
	once     sync.Once
	received atomic.Int64
}

// unblock makes every held and later request fail with 503.
func (a *hangingAPI) unblock() { a.once.Do(func() { close(a.release) }) }

func newHangingAPI(t *testing.T) *hangingAPI {
	t.Helper()
	a := &hangingAPI{release: make(chan struct{})}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.received.Add(1)
		select {
		case <-a.release:
		case <-r.Context().Done():
		}
		http.Error(w, "released", http.StatusServiceUnavailable)
	}))
	t.Cleanup(func() {
		a.unblock()
		a.srv.Close()
	})
	return a
}

func (a *hangingAPI) client(t *testing.T) kubernetes.Interface {
	t.Helper()
	cl, err := kubernetes.NewForConfig(&rest.Config{Host: a.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestKubeletStopsEtcdWhileTheAPIHangs: the kubelet's mirror pod writes
// (its status manager) never hold back the pod lifecycle. While every
// request to the API server hangs, as when etcd has lost quorum during a
// restore, moving etcd-pod.yaml away still stops the member and moving it
// back still starts it; once the API answers again the mirror pod follows.
func TestKubeletStopsEtcdWhileTheAPIHangs(t *testing.T) {
	t.Parallel() // its own cluster
	requireBinaries(t)
	c := Start(t, Options{Workers: -1, Interval: 50 * time.Millisecond})
	ctx := t.Context()
	h := c.Host(c.Masters()[1])
	k := h.kubelet
	api := newHangingAPI(t)

	// Every mirror pod call now hangs for as long as the test runs.
	k.mu.Lock()
	k.mirrorAPI, k.mirrorTimeout = api.client(t), time.Hour
	k.mu.Unlock()
	k.resync()
	waitFor(t, time.Minute, "a mirror pod request in flight", func(context.Context) (bool, error) {
		return api.received.Load() > 0, nil
	})

	pid := k.etcdPID()
	if err := h.MkdirAll(ctx, "/var/lib/etcd-backup", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := h.Move(ctx, "/etc/kubernetes/manifests/etcd-pod.yaml", "/var/lib/etcd-backup/etcd-pod.yaml"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "etcd stopped while the API hangs", func(context.Context) (bool, error) {
		return len(containerNames(t, h, "etcd")) == 0 && !h.etcdRunning(), nil
	})
	if processAlive(pid) {
		t.Fatalf("etcd process %d still running", pid)
	}
	if err := h.Move(ctx, "/var/lib/etcd-backup/etcd-pod.yaml", "/etc/kubernetes/manifests/etcd-pod.yaml"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "etcd started while the API hangs", func(ctx context.Context) (bool, error) {
		return h.etcdRunning() && memberAnswers(ctx, c, h), nil
	})

	// The API answers again: the mirror pod shows the new container.
	api.unblock()
	k.mu.Lock()
	k.mirrorAPI, k.mirrorTimeout = nil, 0
	k.mu.Unlock()
	k.resync()
	waitFor(t, 2*time.Minute, "mirror pod Running", func(ctx context.Context) (bool, error) {
		st, _, err := etcdPodState(ctx, c, h.Name())
		return st == "Running", err
	})
}
