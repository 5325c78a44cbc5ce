package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	operatorv1 "github.com/openshift/api/operator/v1"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	clienttesting "k8s.io/client-go/testing"
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func operatorObjects() []runtime.Object {
	meta := metav1.ObjectMeta{Name: objectName}
	return []runtime.Object{
		&operatorv1.Etcd{ObjectMeta: meta},
		&operatorv1.KubeAPIServer{ObjectMeta: meta},
		&operatorv1.KubeControllerManager{ObjectMeta: meta},
		&operatorv1.KubeScheduler{ObjectMeta: meta},
	}
}

func currentReason(t *testing.T, ctx context.Context, ops *operatorfake.Clientset, target Operator) string {
	t.Helper()
	s, err := Revisions(ctx, ops, target)
	if err != nil {
		t.Fatal(err)
	}
	return s.ForceRedeploymentReason
}

func TestForceRedeploy(t *testing.T) {
	now := time.Date(2026, 11, 24, 18, 9, 0, 123456789, time.UTC)
	tests := []struct {
		name   string
		target Operator
		opts   ForceRedeployOptions
		want   string
	}{
		{"etcd default prefix", Etcd, ForceRedeployOptions{}, "recovery-2026-11-24T18:09:00.123456789Z"},
		{"kube-apiserver", KubeAPIServer, ForceRedeployOptions{}, "recovery-2026-11-24T18:09:00.123456789Z"},
		{"kube-controller-manager", KubeControllerManager, ForceRedeployOptions{}, "recovery-2026-11-24T18:09:00.123456789Z"},
		{"kube-scheduler", KubeScheduler, ForceRedeployOptions{}, "recovery-2026-11-24T18:09:00.123456789Z"},
		{"caller prefix", Etcd, ForceRedeployOptions{Prefix: "single-master-recovery-"}, "single-master-recovery-2026-11-24T18:09:00.123456789Z"},
		{"exact reason", KubeScheduler, ForceRedeployOptions{Reason: "because"}, "because"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			ops := operatorfake.NewClientset(operatorObjects()...)
			tc.opts.Now = fixedClock(now)
			got, err := ForceRedeploy(ctx, ops, tc.target, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.Reason != tc.want {
				t.Fatalf("reason = %q, want %q", got.Reason, tc.want)
			}
			if cur := currentReason(t, ctx, ops, tc.target); cur != tc.want {
				t.Fatalf("spec.forceRedeploymentReason = %q, want %q", cur, tc.want)
			}
			var patched bool
			for _, a := range ops.Actions() {
				if p, ok := a.(clienttesting.PatchAction); ok && p.GetVerb() == "patch" {
					patched = true
					if string(p.GetPatchType()) != "application/merge-patch+json" {
						t.Errorf("patch type %s, want merge", p.GetPatchType())
					}
				}
			}
			if !patched {
				t.Fatal("no patch action")
			}
		})
	}
}

func TestForceRedeployUniqueWithSameClock(t *testing.T) {
	ctx := t.Context()
	ops := operatorfake.NewClientset(operatorObjects()...)
	opts := ForceRedeployOptions{Now: fixedClock(time.Unix(100, 0))}
	first, err := ForceRedeploy(ctx, ops, Etcd, opts)
	if err != nil {
		t.Fatal(err)
	}
	second, err := ForceRedeploy(ctx, ops, Etcd, opts)
	if err != nil {
		t.Fatal(err)
	}
	if first == second {
		t.Fatalf("two redeployments set the same reason %q", first)
	}
	if _, err := ForceRedeploy(ctx, ops, Etcd, ForceRedeployOptions{Reason: second.Reason}); err == nil {
		t.Fatal("setting the current reason again succeeded; the operator would roll nothing out")
	}
}

func TestForceRedeployRetriesConflict(t *testing.T) {
	ctx := t.Context()
	ops := operatorfake.NewClientset(operatorObjects()...)
	conflicts := 2
	ops.PrependReactor("patch", "etcds", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "operator.openshift.io", Resource: "etcds"}, objectName, errors.New("changed"))
		}
		return false, nil, nil
	})
	reason, err := ForceRedeploy(ctx, ops, Etcd, ForceRedeployOptions{Backoff: wait.Backoff{Steps: 5, Duration: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if conflicts != 0 {
		t.Fatalf("%d conflicts left, want 0", conflicts)
	}
	if cur := currentReason(t, ctx, ops, Etcd); cur != reason.Reason || !strings.HasPrefix(reason.Reason, "recovery-") {
		t.Fatalf("reason %q, current %q", reason, cur)
	}
}

func TestForceRedeployErrors(t *testing.T) {
	ctx := t.Context()
	tests := []struct {
		name    string
		ops     *operatorfake.Clientset
		target  Operator
		wantErr func(error) bool
	}{
		{"unknown operator", operatorfake.NewClientset(operatorObjects()...), Operator("openshiftapiserver"), func(err error) bool { return strings.Contains(err.Error(), "unknown operator") }},
		{"object missing", operatorfake.NewClientset(), Etcd, apierrors.IsNotFound},
		{"forbidden is not retried", func() *operatorfake.Clientset {
			ops := operatorfake.NewClientset(operatorObjects()...)
			ops.PrependReactor("patch", "kubeapiservers", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "kubeapiservers"}, objectName, errors.New("no"))
			})
			return ops
		}(), KubeAPIServer, apierrors.IsForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ForceRedeploy(ctx, tc.ops, tc.target, ForceRedeployOptions{Backoff: wait.Backoff{Steps: 2, Duration: time.Millisecond}})
			if err == nil || !tc.wantErr(err) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestForceRedeployRevisionOfThePatchedObject: a revision the operator
// writes between ForceRedeploy's read and its patch predates the reason;
// the patch is conditional on the version read, so it conflicts, and the
// record returned names the newer revision, which the wait must pass.
func TestForceRedeployRevisionOfThePatchedObject(t *testing.T) {
	ctx := t.Context()
	ops := operatorfake.NewClientset(etcdAt(6, "old"))
	bumped := false
	ops.PrependReactor("patch", "etcds", func(a clienttesting.Action) (bool, runtime.Object, error) {
		obj, err := ops.Tracker().Get(a.GetResource(), "", objectName)
		if err != nil {
			return true, nil, err
		}
		e := obj.(*operatorv1.Etcd).DeepCopy()
		if !bumped { // the operator writes revision 7 just before the patch arrives
			bumped = true
			e.Status.LatestAvailableRevision = 7
			e.ResourceVersion = "2"
			if err := ops.Tracker().Update(a.GetResource(), e, ""); err != nil {
				return true, nil, err
			}
		}
		// The API server's precondition, which the fake lacks: a patch
		// naming another resourceVersion conflicts.
		var patch struct {
			Metadata struct {
				ResourceVersion string `json:"resourceVersion"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(a.(clienttesting.PatchAction).GetPatch(), &patch); err != nil {
			return true, nil, err
		}
		if patch.Metadata.ResourceVersion != e.ResourceVersion {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "operator.openshift.io", Resource: "etcds"}, objectName,
				fmt.Errorf("resourceVersion %q, object at %q", patch.Metadata.ResourceVersion, e.ResourceVersion))
		}
		return false, nil, nil
	})
	rec, err := ForceRedeploy(ctx, ops, Etcd, ForceRedeployOptions{Backoff: wait.Backoff{Steps: 5, Duration: time.Millisecond}, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	if rec.AfterRevision != 7 {
		t.Fatalf("record %+v: revision 7, written before the patch landed, would end the wait", rec)
	}
}
