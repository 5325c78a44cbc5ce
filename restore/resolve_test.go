package restore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/release"
)

// TestResolvePlan: ResolvePlan returns the plan Run builds, decided as
// Run decides (the cluster's release, unless Options.Release states one),
// with the decision and its evidence, and changes nothing.
func TestResolvePlan(t *testing.T) {
	const rec = "master-0"
	etcdOnlyIDs := "verify-backup,copy-backup,stop-etcd/master-1,stop-etcd/master-2,stop-etcd/master-0,move-etcd-data/master-0," +
		"extract-resources/master-0,restore-snapshot/master-0,start-etcd/master-0,wait-single-member," +
		"quorum-guard-off,wait-stable,quorum-guard-on,verify-members,approve-csrs"
	cases := []struct {
		name      string
		setup     func(t *testing.T, f *fixture, o *job)
		plan      release.Generation
		decidedBy string
		version   string
		evidence  string // a substring of the choice's String
	}{
		{name: "ClusterVersion 4.20.3, no stated release: the etcd-only plan",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Config = clusterVersionClient("4.20.3")
				etcdOnlyHost(t, f, rec)
			},
			plan: release.GenerationEtcdOnly, decidedBy: DecidedByCluster, version: "4.20.3", evidence: "completed version 4.20.3"},
		{name: "ClusterVersion 4.14.8: the classic plan",
			setup: func(t *testing.T, f *fixture, o *job) { o.Config = clusterVersionClient("4.14.8") },
			plan:  release.GenerationClassic, decidedBy: DecidedByCluster, version: "4.14.8", evidence: "completed version 4.14.8"},
		{name: "a stated release wins over the cluster",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Config = clusterVersionClient("4.20.3")
				etcdOnlyHost(t, f, rec)
				o.Release.Version = "4.14.8"
			},
			plan: release.GenerationClassic, decidedBy: DecidedByOptions, version: "4.14.8", evidence: "generation classic (4.5-4.17), release 4.14.8"},
		{name: "a stated 4.19 wins over a 4.14 cluster",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Config = clusterVersionClient("4.14.8")
				o.Release.Version = "4.19.1"
			},
			plan: release.GenerationEtcdOnly, decidedBy: DecidedByOptions, version: "4.19.1", evidence: "generation etcd-only (4.18+)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if err := os.Remove(filepath.Join(f.roots[rec], "var/lib/etcd/revision.json")); err != nil {
				t.Fatal(err)
			}
			o := f.options(rec)
			o.Release, o.ClusterVersion = release.Options{}, ""
			tc.setup(t, f, &o)
			before := f.snapshotTrees(t)

			p, choice, err := ResolvePlan(context.Background(), o.Deps, o.Options)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s", choice)
			if choice.Plan != tc.plan || choice.DecidedBy != tc.decidedBy || choice.Version != tc.version {
				t.Fatalf("choice %+v, want plan %s decided by %s, version %s", choice, tc.plan, tc.decidedBy, tc.version)
			}
			if !strings.Contains(choice.String(), tc.evidence) {
				t.Errorf("choice %q lacks %q", choice, tc.evidence)
			}
			if tc.decidedBy == DecidedByCluster && (choice.Detected == nil || len(choice.Detected.Evidence) == 0) {
				t.Errorf("no evidence: %+v", choice)
			}
			ids := strings.Join(stepIDs(p), ",")
			if tc.plan == release.GenerationEtcdOnly {
				if ids != etcdOnlyIDs {
					t.Fatalf("steps\n%s\nwant the etcd-only plan\n%s", ids, etcdOnlyIDs)
				}
			} else {
				// The classic plan of a 4.11-4.17 release: every static
				// pod stopped, the guard toggled around the etcd rollout.
				for _, id := range []string{"stop-kube-apiserver/master-1", "stop-static-pods/master-0", "start-control-plane/master-0", "quorum-guard-off", "force-redeploy/etcd", "quorum-guard-on", "force-redeploy/kubescheduler"} {
					if !slices.Contains(stepIDs(p), id) {
						t.Errorf("the classic plan lacks %s: %s", id, ids)
					}
				}
			}
			// The plan Plan builds when the decided release is stated.
			stated := o.Options
			stated.Release.Version = tc.version
			sp, err := Plan(o.Deps, stated)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Join(stepIDs(sp), ","); ids != want {
				t.Errorf("steps\n%s\nPlan with the release stated:\n%s", ids, want)
			}
			if after := f.snapshotTrees(t); after != before {
				t.Errorf("ResolvePlan changed the hosts")
			}
			if o.Config != nil {
				for _, a := range o.Config.(*configfake.Clientset).Actions() {
					if v := a.GetVerb(); v != "get" && v != "list" {
						t.Errorf("ResolvePlan called %s %s", v, a.GetResource().Resource)
					}
				}
			}
		})
	}
}

// TestResolvePlanRefusesBadOptions: ResolvePlan validates as Plan does,
// before reading anything.
func TestResolvePlanRefusesBadOptions(t *testing.T) {
	f := newFixture(t)
	o := f.options("master-0")
	o.BackupDir = ""
	_, _, err := ResolvePlan(context.Background(), o.Deps, o.Options)
	var oe *lifeboat.OptionsError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "restore.Options.BackupDir") {
		t.Fatalf("err = %v, want a *lifeboat.OptionsError naming restore.Options.BackupDir", err)
	}
	// The etcd-only plan needs Config (ClusterOperators), as Plan says.
	o = f.options("master-0")
	o.Release = release.Options{Version: "4.20.3"}
	if _, _, err := ResolvePlan(context.Background(), o.Deps, o.Options); !errors.As(err, &oe) || !strings.Contains(err.Error(), "restore.Deps.Config") {
		t.Fatalf("err = %v, want a *lifeboat.OptionsError naming restore.Deps.Config", err)
	}
}
