package member

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestManualMasterStep: without a Machine API, 2.4.1's re-create step
// names the manual step and stops (no wait), or waits for the new master
// node; a run after the node joined continues at once.
func TestManualMasterStep(t *testing.T) {
	masters := func(names ...string) []runtime.Object {
		var out []runtime.Object
		for i, n := range names {
			node := readyNode(n)
			node.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC))
			out = append(out, node)
		}
		return out
	}
	tests := []struct {
		name     string
		nodes    []runtime.Object
		wait     time.Duration
		joinLate bool
		wantNew  string
		wantErr  []error
	}{
		{"no wait: stops at the manual step", masters("master-1", "master-2"), 0, false, "", []error{ErrNoMachine}},
		{"new node already Ready: continues", masters("master-1", "master-2", "master-3"), 0, false, "master-3", nil},
		{"waits for the new node", masters("master-1", "master-2"), time.Minute, true, "master-3", nil},
		{"gives up after the wait", masters("master-1", "master-2"), 300 * time.Millisecond, false, "", []error{ErrNoMachine, context.DeadlineExceeded}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deps := planDeps(etcdtest.NewCluster("master-1", "master-2"), append(tc.nodes, notReadyNode("master-0", true))...)
			r, err := newReplacement(deps, ReplaceOptions{Node: "master-0", State: MachineNotRunning, SkipBackupCheck: true,
				Interval: 10 * time.Millisecond, WaitForNewMaster: tc.wait}, "2.4.1")
			if err != nil {
				t.Fatal(err)
			}
			if tc.joinLate {
				go func() {
					time.Sleep(100 * time.Millisecond)
					n := readyNode("master-3")
					n.CreationTimestamp = metav1.NewTime(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
					if _, err := deps.Kube.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
						t.Error(err)
					}
				}()
			}
			var progress []string
			err = r.recreateMachine(context.Background(), func(m string) { progress = append(progress, m) })
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want errors.Is %v", err, want)
				}
			}
			if tc.wantErr == nil && err != nil {
				t.Fatalf("err = %v", err)
			}
			if r.newNode != tc.wantNew {
				t.Errorf("new node %q, want %q", r.newNode, tc.wantNew)
			}
			if tc.wantNew == "" && !strings.Contains(strings.Join(progress, "\n"), "MANUAL STEP: master-0 has no Machine") {
				t.Errorf("progress %q does not name the manual step", progress)
			}
		})
	}
}
