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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/etcdtest"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

func planDeps(f *etcdtest.Cluster, kube ...runtime.Object) Deps {
	return Deps{Etcd: f, Health: f, Operator: operatorfake.NewClientset(etcdOperator("2 of 3 members are available, master-0 is unhealthy")),
		Kube: kubefake.NewClientset(kube...)}
}

func stepIDs(p *plan.Plan) string {
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	return strings.Join(ids, ",")
}

func TestReplacePlanChoosesProcedure(t *testing.T) {
	deps := planDeps(etcdtest.NewCluster("master-0", "master-1", "master-2"))
	h := hosttest.NewDir("master-0", t.TempDir(), hosttest.DirOptions{})
	tests := []struct {
		name    string
		opts    ReplaceOptions
		steps   string
		wantErr string
	}{
		{"machine not running", ReplaceOptions{Node: "master-0", State: MachineNotRunning, BackupDir: "/backup"},
			"identify,check-quorum,check-backup,release,remove-member,quorum-guard-off,delete-node,delete-secrets,recreate-machine,force-redeploy,wait-revision,quorum-guard-on,verify", ""},
		{"node not ready", ReplaceOptions{Node: "master-0", State: NodeNotReady, SkipBackupCheck: true},
			"identify,check-quorum,check-backup,release,remove-member,quorum-guard-off,delete-node,delete-secrets,recreate-machine,force-redeploy,wait-revision,quorum-guard-on,verify", ""},
		{"crashlooping", ReplaceOptions{Node: "master-0", State: EtcdPodCrashlooping, BackupDir: "/backup", Host: h},
			"identify,check-quorum,check-backup,release,stop-etcd,remove-member,quorum-guard-off,delete-secrets,force-redeploy,wait-revision,quorum-guard-on,verify", ""},
		{"crashlooping without host", ReplaceOptions{Node: "master-0", State: EtcdPodCrashlooping, BackupDir: "/b"}, "", "member.ReplaceOptions.Host: is required by 2.4.2"},
		{"healthy again", ReplaceOptions{Node: "master-0", State: Healthy, BackupDir: "/b"}, "", "needs no replacement"},
		{"unknown", ReplaceOptions{Node: "master-0", State: Unknown, BackupDir: "/b"}, "", "no procedure"},
		{"no backup", ReplaceOptions{Node: "master-0", State: NodeNotReady}, "", "take an etcd backup first"},
		{"no node", ReplaceOptions{State: NodeNotReady, BackupDir: "/b"}, "", "member.ReplaceOptions.Node: is required"},
		{"bad release override", ReplaceOptions{Node: "master-0", State: NodeNotReady, BackupDir: "/b", Release: release.Options{Version: "four"}}, "", "member.ReplaceOptions.Release.Version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ReplacePlan(deps, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := stepIDs(p); got != tc.steps {
				t.Fatalf("steps %s, want %s", got, tc.steps)
			}
			if d := p.Describe(); !strings.Contains(d, "runbook 2.4") {
				t.Fatalf("dry run:\n%s", d)
			}
		})
	}
}

// A backup that does not verify stops the plan before anything changes.
func TestReplacePlanBadBackupChangesNothing(t *testing.T) {
	f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
	deps := planDeps(f, notReadyNode("master-0", true), readyNode("master-1"), readyNode("master-2"), secret("etcd-peer-master-0"))
	p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: NodeNotReady, BackupDir: "/backup", Logger: quiet,
		VerifyBackup: func(context.Context, string) error { return errors.New("snapshot sha256 mismatch") }})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Run(t.Context(), plan.RunOptions{})
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "check-backup" || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("err = %v, want a check-backup failure", err)
	}
	if len(f.Removed()) != 0 {
		t.Fatal("a member was removed")
	}
	if _, err := deps.Kube.CoreV1().Secrets(etcdNamespace).Get(t.Context(), "etcd-peer-master-0", metav1Get); err != nil {
		t.Fatalf("secret deleted: %v", err)
	}
}

// The identify step refuses when another member is the unhealthy one, or
// when the state calls for the other procedure.
func TestReplacePlanIdentifyRefuses(t *testing.T) {
	tests := []struct {
		name    string
		etcd    *etcdtest.Cluster
		kube    []runtime.Object
		opts    ReplaceOptions
		wantErr string
	}{
		{"another member is unhealthy", etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-1"),
			[]runtime.Object{readyNode("master-0"), notReadyNode("master-1", true)},
			ReplaceOptions{Node: "master-0", State: NodeNotReady}, "the unhealthy member is master-1"},
		{"state needs 2.4.2", etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0"),
			[]runtime.Object{readyNode("master-0"), etcdPod("master-0", crashLoop)},
			ReplaceOptions{Node: "master-0", State: NodeNotReady}, "needs \"2.4.2\""},
		{"healthy again", etcdtest.NewCluster("master-0", "master-1", "master-2"), nil,
			ReplaceOptions{Node: "master-0", State: NodeNotReady}, "healthy again"},
		{"quorum lost", etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0", "master-1"), nil,
			ReplaceOptions{Node: "master-0", State: NodeNotReady}, "restore.Plan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.SkipBackupCheck, tc.opts.Logger = true, quiet
			p, err := ReplacePlan(planDeps(tc.etcd, tc.kube...), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Run(t.Context(), plan.RunOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if len(tc.etcd.Removed()) != 0 {
				t.Fatal("a member was removed")
			}
		})
	}
}

var metav1Get = metav1.GetOptions{}

// A 2.4.2 run interrupted after stopping etcd on the host is run again
// without a plan.State: identify accepts the stopped member, the stop step
// finds its moves done, and the member is removed.
func TestCrashloopingPlanRerunAfterStop(t *testing.T) {
	root, h := hostTree(t, false)
	if err := os.MkdirAll(filepath.Join(root, "var/lib/etcd-backup"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(root, "etc/kubernetes/manifests/etcd-pod.yaml"), filepath.Join(root, "var/lib/etcd-backup/etcd-pod.yaml")); err != nil {
		t.Fatal(err)
	}
	f := etcdtest.NewCluster("master-0", "master-1", "master-2").Down("master-0")
	deps := planDeps(f, readyNode("master-0"), readyNode("master-1"), readyNode("master-2"), secret("etcd-peer-master-0"))
	p, err := ReplacePlan(deps, ReplaceOptions{Node: "master-0", State: EtcdPodCrashlooping, Host: h, SkipBackupCheck: true, Logger: quiet,
		Stop: StopOptions{Interval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	// No operator rolls anything out here: the run is stopped once it
	// waits for the revision (not by a deadline that a slow machine could
	// reach in an earlier step).
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var events []string
	err = p.Run(ctx, plan.RunOptions{Report: func(e plan.Event) {
		if e.Status != plan.Progress {
			events = append(events, e.Step.ID+" "+string(e.Status))
		}
		if e.Step.ID == "wait-revision" && e.Status == plan.Started {
			cancel()
		}
	}})
	var se *plan.StepError
	if !errors.As(err, &se) || se.Step != "wait-revision" {
		t.Fatalf("err = %v; events %q", err, events)
	}
	if len(f.Removed()) != 1 {
		t.Fatalf("removed %x; events %q", f.Removed(), events)
	}
	if _, err := os.Stat(filepath.Join(root, "tmp/etcd/member/snap/db")); err != nil {
		t.Fatal(err)
	}
}
