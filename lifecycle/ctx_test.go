package lifecycle

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	operatorclient "github.com/openshift/client-go/operator/clientset/versioned"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
)

// hangDeadline is how long a call may take before the test calls it hung.
// It catches a hang; it is not a measure of promptness.
const hangDeadline = 2 * time.Minute

// blockingOperatorClient is an operator client talking to an HTTP server
// that accepts every request and never answers (until the test ends).
func blockingOperatorClient(t *testing.T) operatorclient.Interface {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	ops, err := operatorclient.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// returnsPromptly runs fn and fails the test if it has not returned within
// hangDeadline; it returns fn's error.
func returnsPromptly(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangDeadline):
		t.Fatalf("%s did not return within %s of its context ending", what, hangDeadline)
		return nil
	}
}

// TestCallsHonourContext: every call of the package returns when its
// context ends, against a server that never answers and, for the retrying
// ForceRedeploy, between tries whose backoff is an hour (retry.OnError
// slept through it).
func TestCallsHonourContext(t *testing.T) {
	hourBackoff := wait.Backoff{Duration: time.Hour, Factor: 1, Steps: 5}
	conflicting := func(t *testing.T) operatorclient.Interface {
		ops := operatorfake.NewClientset(operatorObjects()...)
		ops.PrependReactor("patch", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "operator.openshift.io", Resource: "etcds"}, objectName, errors.New("injected"))
		})
		return ops
	}
	cases := []struct {
		name   string
		client func(t *testing.T) operatorclient.Interface
		// cancelAfter: 0 cancels before the call; else after that long.
		cancelAfter time.Duration
		call        func(ctx context.Context, ops operatorclient.Interface) error
	}{
		{"ForceRedeploy, server never answers", blockingOperatorClient, 0, func(ctx context.Context, ops operatorclient.Interface) error {
			_, err := ForceRedeploy(ctx, ops, Etcd, ForceRedeployOptions{Logger: quietLogger})
			return err
		}},
		{"ForceRedeploy, server never answers, cancelled during the call", blockingOperatorClient, 100 * time.Millisecond, func(ctx context.Context, ops operatorclient.Interface) error {
			_, err := ForceRedeploy(ctx, ops, Etcd, ForceRedeployOptions{Logger: quietLogger})
			return err
		}},
		{"ForceRedeploy, conflicts with an hour of backoff", conflicting, 100 * time.Millisecond, func(ctx context.Context, ops operatorclient.Interface) error {
			_, err := ForceRedeploy(ctx, ops, Etcd, ForceRedeployOptions{Backoff: hourBackoff, Logger: quietLogger})
			return err
		}},
		{"ForceRedeployOnce, server never answers", blockingOperatorClient, 100 * time.Millisecond, func(ctx context.Context, ops operatorclient.Interface) error {
			_, _, err := ForceRedeployOnce(ctx, ops, Etcd, &memStore{}, ForceRedeployOptions{Logger: quietLogger})
			return err
		}},
		{"Revisions, server never answers", blockingOperatorClient, 100 * time.Millisecond, func(ctx context.Context, ops operatorclient.Interface) error {
			_, err := Revisions(ctx, ops, Etcd)
			return err
		}},
		{"WaitAllNodesAtLatestRevision, server never answers", blockingOperatorClient, 100 * time.Millisecond, func(ctx context.Context, ops operatorclient.Interface) error {
			_, err := WaitAllNodesAtLatestRevision(ctx, ops, Etcd, WaitOptions{After: RedeployRecord{AfterRevision: 3, Reason: "r"}, Logger: quietLogger})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ops := tc.client(t)
			ctx, cancel := context.WithCancel(t.Context())
			if tc.cancelAfter == 0 {
				cancel()
			} else {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			defer cancel()
			err := returnsPromptly(t, tc.name, func() error { return tc.call(ctx, ops) })
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want one wrapping context.Canceled", err)
			}
		})
	}
}

// memStore is a RedeployStore in memory that records what was saved when.
type memStore struct {
	recs  map[Operator]RedeployRecord
	saves int
}

func (m *memStore) LoadRedeploy(ctx context.Context, target Operator) (RedeployRecord, bool, error) {
	r, ok := m.recs[target]
	return r, ok, nil
}

func (m *memStore) SaveRedeploy(ctx context.Context, target Operator, rec RedeployRecord) error {
	if m.recs == nil {
		m.recs = map[Operator]RedeployRecord{}
	}
	m.saves++
	if rec == (RedeployRecord{}) {
		delete(m.recs, target)
		return nil
	}
	m.recs[target] = rec
	return nil
}
