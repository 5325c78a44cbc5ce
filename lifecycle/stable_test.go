package lifecycle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/plan"
)

func co(name string, avail, prog, deg configv1.ConditionStatus) *configv1.ClusterOperator {
	c := &configv1.ClusterOperator{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for _, x := range []struct {
		t configv1.ClusterStatusConditionType
		s configv1.ConditionStatus
	}{{configv1.OperatorAvailable, avail}, {configv1.OperatorProgressing, prog}, {configv1.OperatorDegraded, deg}} {
		if x.s != "" {
			c.Status.Conditions = append(c.Status.Conditions, configv1.ClusterOperatorStatusCondition{Type: x.t, Status: x.s, Message: name + " " + string(x.t) + " message"})
		}
	}
	return c
}

const (
	T = configv1.ConditionTrue
	F = configv1.ConditionFalse
	U = configv1.ConditionUnknown
)

// stepClock advances by step at each call: each poll sees later time.
type stepClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// TestWaitForStableCluster judges the operators as oc adm
// wait-for-stable-cluster does, and names the unstable ones and their
// conditions on timeout.
func TestWaitForStableCluster(t *testing.T) {
	cases := []struct {
		name      string
		ops       []runtime.Object
		wantErr   bool
		wantNames []string // in the error
	}{
		{"all stable", []runtime.Object{co("etcd", T, F, F), co("kube-apiserver", T, F, F)}, false, nil},
		{"progressing", []runtime.Object{co("etcd", T, T, F), co("kube-apiserver", T, F, F)}, true, []string{"etcd Available=True Progressing=True Degraded=False", "etcd Progressing message"}},
		{"degraded", []runtime.Object{co("etcd", T, F, T)}, true, []string{"etcd Available=True Progressing=False Degraded=True", "etcd Degraded message"}},
		{"not available", []runtime.Object{co("dns", F, F, F)}, true, []string{"dns Available=False"}},
		{"unknown progressing", []runtime.Object{co("network", T, U, F)}, true, []string{"network Available=True Progressing=True"}},
		{"missing condition", []runtime.Object{co("ingress", T, "", F)}, true, []string{"ingress", "missing one of"}},
		{"no operators", nil, true, []string{"no ClusterOperators listed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := configfake.NewClientset(tc.ops...)
			clock := &stepClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), step: time.Second}
			var lines []string
			ctx := plan.WithReport(t.Context(), func(e plan.Event) { lines = append(lines, e.Message) })
			_, err := WaitForStableCluster(ctx, cfg, StableOptions{
				MinStablePeriod: 5 * time.Second, Timeout: 300 * time.Millisecond, Interval: 20 * time.Millisecond,
				Now: clock.Now,
			})
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var ns *NotStableError
			if !errors.As(err, &ns) || !errors.Is(err, ErrClusterNotStable) {
				t.Fatalf("err = %v, want *NotStableError", err)
			}
			for _, w := range tc.wantNames {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(lines) == 0 {
				t.Error("no progress line")
			}
		})
	}
}

// TestWaitForStableClusterPeriod: the period is continuous; an unstable
// look in the middle starts it again, and the wait ends only after a full
// period of stable looks.
func TestWaitForStableClusterPeriod(t *testing.T) {
	cfg := configfake.NewClientset(co("etcd", T, F, F))
	var mu sync.Mutex
	lists := 0
	// The 3rd listing shows etcd Progressing (a blip).
	cfg.PrependReactor("list", "clusteroperators", func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		lists++
		if lists == 3 {
			return true, &configv1.ClusterOperatorList{Items: []configv1.ClusterOperator{*co("etcd", T, T, F)}}, nil
		}
		return false, nil, nil
	})
	clock := &stepClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), step: time.Second}
	_, err := WaitForStableCluster(t.Context(), cfg, StableOptions{MinStablePeriod: 4 * time.Second, Timeout: time.Minute, Interval: time.Millisecond, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Look 1-2 stable, 3 blip, then 4.. stable: the period restarts at 4
	// and needs the clock to advance 4 s (one tick per look) beyond it.
	if lists < 8 {
		t.Errorf("returned after %d listings; the blip at the 3rd must restart the period", lists)
	}
}

// TestWaitForStableClusterCancel: a cancelled ctx ends the wait with
// ctx's error and the last state; bad options are refused.
func TestWaitForStableClusterCancel(t *testing.T) {
	cfg := configfake.NewClientset(co("etcd", T, T, F))
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := WaitForStableCluster(ctx, cfg, StableOptions{MinStablePeriod: time.Second, Timeout: time.Hour, Interval: 5 * time.Millisecond})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "etcd Available=True Progressing=True") {
		t.Fatalf("err = %v, want context.Canceled naming etcd", err)
	}
	if _, err := WaitForStableCluster(t.Context(), cfg, StableOptions{Timeout: -1}); err == nil {
		t.Error("negative Timeout accepted")
	}
	if _, err := WaitForStableCluster(t.Context(), nil, StableOptions{}); err == nil {
		t.Error("nil client accepted")
	}
}
