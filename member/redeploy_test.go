package member

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// TestCrashloopingPlanResumedAfterRedeployPatch: the process dies right
// after its forceRedeploymentReason patch reached the API server. A new
// process running the plan again (no plan.State) patches nothing: the
// reason recorded in the cluster before the patch is already set, and the
// wait starts from the revision recorded then.
func TestCrashloopingPlanResumedAfterRedeployPatch(t *testing.T) {
	root, h := hostTree(t, false)
	// As in TestCrashloopingPlanRerunAfterStop: etcd was stopped on the host.
	if err := os.MkdirAll(filepath.Join(root, "var/lib/etcd-backup"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "etc/kubernetes/manifests/etcd-pod.yaml"), filepath.Join(root, "var/lib/etcd-backup/etcd-pod.yaml")); err != nil {
		t.Fatal(err)
	}
	f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
	deps := planDeps(f, readyNode("master-0"), readyNode("master-1"), readyNode("master-2"), secret("etcd-peer-master-0"))
	ops := deps.Operator.(*operatorfake.Clientset)
	before, err := lifecycle.Revisions(t.Context(), ops, lifecycle.Etcd)
	if err != nil {
		t.Fatal(err)
	}
	reasonPatches := 0
	crashed := false
	var crash context.CancelFunc
	ops.PrependReactor("patch", "etcds", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if !strings.Contains(string(a.(clienttesting.PatchAction).GetPatch()), "forceRedeploymentReason") {
			return false, nil, nil
		}
		reasonPatches++
		if crashed {
			return false, nil, nil
		}
		crashed = true
		if _, _, err := clienttesting.ObjectReaction(ops.Tracker())(a); err != nil {
			t.Error(err)
		}
		crash()
		return true, nil, errors.New("injected: process killed after the patch was applied")
	})
	run := func(stopAtWait bool) error {
		t.Helper()
		p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: EtcdPodCrashlooping, Host: h, SkipBackupCheck: true, Logger: quiet,
			Stop: StopOptions{Interval: time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // catches a hang only
		defer cancel()
		crash = cancel
		return p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) {
			if stopAtWait && e.Step.ID == "wait-revision" && e.Status == plan.Started {
				cancel() // no operator rolls anything out here
			}
		}})
	}
	var se *plan.StepError
	if err := run(false); !errors.As(err, &se) || se.Step != "force-redeploy" {
		t.Fatalf("crashed run: err = %v, want it to stop at force-redeploy", err)
	}
	if err := run(true); !errors.As(err, &se) || se.Step != "wait-revision" {
		t.Fatalf("resumed run: err = %v, want it to reach wait-revision", err)
	}
	if reasonPatches != 1 {
		t.Fatalf("forceRedeploymentReason patched %d times, want once", reasonPatches)
	}
	st := lifecycle.NewAnnotationRedeployStore(ops, "replace-master-0")
	rec, ok, err := st.LoadRedeploy(t.Context(), lifecycle.Etcd)
	if err != nil || !ok || rec.AfterRevision != before.LatestAvailableRevision {
		t.Fatalf("recorded %+v (ok %v, err %v), want the revision %d from before the patch", rec, ok, err, before.LatestAvailableRevision)
	}
	if cur, _ := lifecycle.Revisions(t.Context(), ops, lifecycle.Etcd); cur.ForceRedeploymentReason != rec.Reason {
		t.Fatalf("object carries %q, recorded %q", cur.ForceRedeploymentReason, rec.Reason)
	}
}
