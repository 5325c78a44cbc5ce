package restore_test

import (
	"slices"
	"testing"

	kubefake "k8s.io/client-go/kubernetes/fake"

	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/release"
	"github.com/lifeboat-dev/lifeboat/restore"
	"github.com/lifeboat-dev/lifeboat/restore/inprocess"
)

// TestClassicPlanQuorumGuardSteps: the classic plan turns the quorum guard
// off before the forced etcd redeployment and back on after its rollout
// for 4.11-4.17 and an unknown release, and keeps the 4.5 runbook's steps
// for older releases.
func TestClassicPlanQuorumGuardSteps(t *testing.T) {
	tests := []struct {
		name           string
		clusterVersion string
		stated         string
		want           bool
	}{
		{name: "4.5 runbook", clusterVersion: "4.5.2", want: false},
		{name: "4.10 has no guard step", clusterVersion: "4.10.67", want: false},
		{name: "4.11 first with the step", clusterVersion: "4.11.0", want: true},
		{name: "4.14", clusterVersion: "4.14.8", want: true},
		{name: "4.17 last classic", clusterVersion: "4.17.30", want: true},
		{name: "unknown release", want: true},
		{name: "stated release wins over ClusterVersion", clusterVersion: "4.5.2", stated: "4.14.8", want: true},
		{name: "stated old release", clusterVersion: "4.14.8", stated: "4.8.1", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Building a plan touches no host: any host operation would fail.
			local := func(n string) host.Host { return hosttest.Unimplemented(n) }
			deps := restore.Deps{InProcess: inprocess.WriteDataDir, Recovery: local("m0"), Others: []host.Host{local("m1")},
				Kube: kubefake.NewClientset(), Operator: operatorfake.NewClientset()}
			o := restore.Options{BackupDir: t.TempDir(), ClusterVersion: tc.clusterVersion, Release: release.Options{Version: tc.stated}}
			p, err := restore.Plan(deps, o)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, s := range p.Steps {
				ids = append(ids, s.ID)
			}
			off, on := slices.Index(ids, "quorum-guard-off"), slices.Index(ids, "quorum-guard-on")
			if got := off >= 0 && on >= 0; got != tc.want {
				t.Fatalf("guard steps %v, want %v: %v", got, tc.want, ids)
			}
			if !tc.want {
				if off >= 0 || on >= 0 {
					t.Fatalf("one guard step without the other: %v", ids)
				}
				return
			}
			if !(slices.Index(ids, "wait-single-member") < off && off == slices.Index(ids, "force-redeploy/etcd")-1 &&
				on == slices.Index(ids, "wait-rollout/etcd")+1 && on < slices.Index(ids, "force-redeploy/kubeapiserver")) {
				t.Errorf("guard steps out of place: %v", ids)
			}
		})
	}
}
