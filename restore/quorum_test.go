package restore

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/member"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

func quorumOptions(f *fixture, version string) quorumJob {
	return quorumJob{
		Deps: Deps{Recovery: f.hosts["master-0"], Kube: f.kube, Operator: f.ops, Config: clusterVersionClient(version)},
		QuorumRestoreOptions: QuorumRestoreOptions{
			Release:  release.Options{Version: version},
			Interval: 10 * time.Millisecond, APITimeout: time.Minute, ContainerTimeout: time.Minute,
		},
	}
}

// TestQuorumRestoreOptionsValidate: Validate refuses bad options alone,
// without the Deps; QuorumRestorePlan refuses those and, on top, Deps
// that cannot carry the options out. Every refusal is
// lifeboat.ErrInvalidOptions.
func TestQuorumRestoreOptionsValidate(t *testing.T) {
	f := newFixture(t)
	ok := quorumOptions(f, "4.20.3")
	tests := []struct {
		name   string
		mutate func(o *quorumJob)
		// validOpts: Validate accepts (the options alone are fine);
		// planOK: QuorumRestorePlan accepts (the deps fit too).
		validOpts, planOK bool
	}{
		{name: "valid", mutate: func(o *quorumJob) {}, validOpts: true, planOK: true},
		{name: "no recovery host", mutate: func(o *quorumJob) { o.Recovery = nil }, validOpts: true},
		{name: "no config client", mutate: func(o *quorumJob) { o.Config = nil }, validOpts: true},
		{name: "no operator client", mutate: func(o *quorumJob) { o.Operator = nil }, validOpts: true},
		{name: "attestation without evidence", mutate: func(o *quorumJob) { o.Unreachable = map[string]string{"master-2": ""} }},
		{name: "attested host also given", mutate: func(o *quorumJob) {
			o.Others = []host.Host{f.hosts["master-1"]}
			o.Unreachable = map[string]string{"master-1": "powered off"}
		}, validOpts: true},
		{name: "recovery attested", mutate: func(o *quorumJob) { o.Unreachable = map[string]string{"master-0": "powered off"} }, validOpts: true},
		{name: "host given twice", mutate: func(o *quorumJob) { o.Others = []host.Host{f.hosts["master-1"], f.hosts["master-1"]} }, validOpts: true},
		{name: "negative interval", mutate: func(o *quorumJob) { o.Interval = -time.Second }},
		{name: "negative stable period", mutate: func(o *quorumJob) { o.StablePeriod = -time.Second }},
		{name: "invalid release", mutate: func(o *quorumJob) { o.Release.Version = "four" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mutate(&o)
			err := o.Validate()
			if tc.validOpts != (err == nil) || (err != nil && !errors.Is(err, lifeboat.ErrInvalidOptions)) {
				t.Fatalf("Validate() = %v, want ok %v or lifeboat.ErrInvalidOptions", err, tc.validOpts)
			}
			_, perr := quorumPlanJob(o)
			if tc.planOK != (perr == nil) || (perr != nil && !errors.Is(perr, lifeboat.ErrInvalidOptions)) {
				t.Errorf("QuorumRestorePlan() = %v, want ok %v or lifeboat.ErrInvalidOptions", perr, tc.planOK)
			}
		})
	}
}

func TestQuorumRevisionBump(t *testing.T) {
	tests := []struct {
		name    string
		maxRaft uint64
		want    uint64
	}{
		{name: "no revision.json", maxRaft: 0, want: defaultRevisionBump},
		{name: "20 percent", maxRaft: 5000, want: 1000},
		{name: "floored", maxRaft: 12, want: 2},
		{name: "large", maxRaft: 1 << 40, want: (1 << 40) / 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := quorumRevisionBump(tc.maxRaft); got != tc.want {
				t.Errorf("QuorumRevisionBump(%d) = %d, want %d", tc.maxRaft, got, tc.want)
			}
		})
	}
}

func TestForcedEtcdPod(t *testing.T) {
	in := etcdPodYAML("master-0", "https://10.0.0.10:2380", 3) + `    - name: ETCD_FORCE_NEW_CLUSTER
      value: "false"
`
	out, err := forcedEtcdPod([]byte(in), 1234)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"ETCD_FORCE_NEW_CLUSTER\n      value: \"true\"", "ETCD_FORCE_NEW_CLUSTER_BUMP_AMOUNT\n      value: \"1234\"", "ETCD_NODE_NAME", quorumRestorePodAnnotation, "--initial-cluster-state=existing"} {
		if !strings.Contains(s, want) {
			t.Errorf("forced pod lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, `value: "false"`) {
		t.Errorf("the old ETCD_FORCE_NEW_CLUSTER stayed:\n%s", s)
	}
	if _, err := forcedEtcdPod([]byte(podYAML("kube-apiserver", 7)), 1); err == nil {
		t.Error("a pod without an etcd container was accepted")
	}
}

// TestQuorumRestoreRefusals: every refusal of the check step happens
// before any host is touched, with its typed error; an attestation lets
// the dry run through and is reported as unsafe.
func TestQuorumRestoreRefusals(t *testing.T) {
	tests := []struct {
		name    string
		version string
		wal     bool
		mutate  func(f *fixture, o *quorumJob)
		want    error
		check   func(t *testing.T, err error)
	}{
		// The ClusterVersion says 4.14.8 and nothing is stated: the check
		// step refuses the detected release (a stated one is refused when
		// the plan is built: TestQuorumRestorePlanRefusesStatedRelease).
		{name: "release without the procedure", version: "4.14.8", wal: true, want: ErrNoQuorumRestore,
			mutate: func(f *fixture, o *quorumJob) { o.Release = release.Options{} },
			check: func(t *testing.T, err error) {
				var re *QuorumRestoreReleaseError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), "restore.Run") {
					t.Errorf("%v: want a *QuorumRestoreReleaseError naming the classic alternative", err)
				}
			}},
		{name: "no member directory", version: "4.20.3", wal: false, want: ErrNotMemberDir,
			check: func(t *testing.T, err error) {
				var nm *NotMemberDirError
				if !errors.As(err, &nm) || nm.Host != "master-0" || len(nm.Missing) != 1 || nm.Missing[0] != "member/wal" {
					t.Errorf("%v: want a *NotMemberDirError for member/wal on master-0", err)
				}
			}},
		{name: "a named member neither given nor attested", version: "4.20.3", wal: true, want: ErrOthersNotStopped,
			check: func(t *testing.T, err error) {
				var ns *OthersNotStoppedError
				if !errors.As(err, &ns) || ns.Hosts["master-1"] == "" || len(ns.Hosts) != 1 {
					t.Errorf("%v: want an *OthersNotStoppedError naming master-1", err)
				}
			}},
		{name: "attested unreachable", version: "4.20.3", wal: true,
			mutate: func(f *fixture, o *quorumJob) {
				o.Unreachable = map[string]string{"master-1": "powered off in the console"}
			}},
		{name: "reachable other", version: "4.20.3", wal: true,
			mutate: func(f *fixture, o *quorumJob) { o.Others = []host.Host{f.hosts["master-1"]} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.wal {
				writeFile(t, filepath.Join(f.roots["master-0"], "var/lib/etcd/member/wal/0.wal"), "wal")
			}
			o := quorumOptions(f, tc.version)
			if tc.mutate != nil {
				tc.mutate(f, &o)
			}
			before := f.snapshotTrees(t)
			var evs []plan.Event
			dry := o
			dry.DryRun, dry.Report = true, collect(&evs)
			_, err := runQuorumJob(context.Background(), dry)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("dry run: %v", err)
				}
				var msgs []string
				for _, e := range evs {
					msgs = append(msgs, e.Message)
				}
				all := strings.Join(msgs, "\n")
				for _, want := range []string{"generation etcd-only", "revision bump 1000 (0.2 × maxRaftIndex 5000"} {
					if !strings.Contains(all, want) {
						t.Errorf("dry run lacks %q:\n%s", want, all)
					}
				}
				if o.Unreachable != nil && !strings.Contains(all, "UNSAFE: master-1 attested stopped") {
					t.Errorf("the attestation is not reported as unsafe:\n%s", all)
				}
			} else {
				var pe *PreflightError
				if !errors.Is(err, tc.want) || !errors.As(err, &pe) {
					t.Fatalf("dry run: %v, want a *PreflightError matching %v", err, tc.want)
				}
				tc.check(t, err)
				o.Report = nil
				state, err := runQuorumJob(context.Background(), o)
				if !errors.Is(err, tc.want) {
					t.Fatalf("run: %v, want %v", err, tc.want)
				}
				if state != nil && len(state.Moves) > 0 {
					t.Errorf("the refused run moved %v", state.Moves)
				}
			}
			if after := f.snapshotTrees(t); after != before {
				t.Errorf("a refused run or a dry run changed the hosts")
			}
		})
	}
}

// TestQuorumRestorePlanRefusesStatedRelease: a release stated in
// QuorumRestoreOptions.Release is known without I/O, so one without the
// quorum restore (4.16, generation classic) is refused by Validate and
// QuorumRestorePlan, before a plan exists, with a *lifeboat.OptionsError
// naming the stated field whose cause is a *QuorumRestoreReleaseError;
// 4.18 and the etcd-only generation build.
func TestQuorumRestorePlanRefusesStatedRelease(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		rel    release.Options
		refuse string // the option named, "" when the plan builds
	}{
		{"4.16 stated", release.Options{Version: "4.16"}, "restore.QuorumRestoreOptions.Release.Version"},
		{"4.16.3 stated", release.Options{Version: "4.16.3"}, "restore.QuorumRestoreOptions.Release.Version"},
		{"classic stated", release.Options{Generation: release.GenerationClassic}, "restore.QuorumRestoreOptions.Release.Generation"},
		{"4.18 stated", release.Options{Version: "4.18"}, ""},
		{"etcd-only stated", release.Options{Generation: release.GenerationEtcdOnly}, ""},
		{"nothing stated", release.Options{}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := quorumOptions(f, "4.16.3") // the cluster's answer is not read when building
			o.Release = tc.rel
			p, err := quorumPlanJob(o)
			verr := o.Validate()
			if tc.refuse == "" {
				if err != nil || p == nil || verr != nil {
					t.Fatalf("QuorumRestorePlan = %v, %v; Validate = %v; want a plan", p, err, verr)
				}
				return
			}
			for what, err := range map[string]error{"QuorumRestorePlan": err, "Validate": verr} {
				var oe *lifeboat.OptionsError
				var re *QuorumRestoreReleaseError
				if !errors.As(err, &oe) || oe.Option != tc.refuse || !errors.As(err, &re) || !errors.Is(err, ErrNoQuorumRestore) {
					t.Fatalf("%s = %v, want a *lifeboat.OptionsError naming %s caused by a *QuorumRestoreReleaseError", what, err, tc.refuse)
				}
				if !re.Decision.Overridden || re.Decision.Generation != release.GenerationClassic ||
					!strings.Contains(err.Error(), "the options state") || !strings.Contains(err.Error(), "restore.Run") {
					t.Errorf("%s: %v: want the stated classic decision and the classic alternative", what, err)
				}
			}
			if p != nil {
				t.Errorf("a refused QuorumRestorePlan returned a plan")
			}
		})
	}
}

// TestQuorumRestoreAnotherRun: the unfinished state of another quorum
// restore (other hosts) is refused with *AnotherRunError naming where
// AbandonUnfinished would move it, and nothing is changed.
func TestQuorumRestoreAnotherRun(t *testing.T) {
	f := newFixture(t)
	writeFile(t, filepath.Join(f.roots["master-0"], "var/lib/etcd/member/wal/0.wal"), "wal")
	o := quorumOptions(f, "4.20.3")
	o.Others = []host.Host{f.hosts["master-1"]}
	st := newState(f.hosts["master-0"], defaultQuorumStatePath)
	if err := st.Update(context.Background(), func(d *StateData) {
		d.Plan, d.Started = quorumPlanName, time.Now().UTC()
		d.Identity = &RunIdentity{Recovery: "master-0", Method: ForceNewCluster, Others: []string{"master-2"}}
		d.Finished["check"], d.Finished["stop-etcd/master-2"] = time.Now(), time.Now()
		d.Moves = []Move{{Host: "master-2", From: "/etc/kubernetes/manifests/etcd-pod.yaml", To: "/x", Step: "stop-etcd/master-2", Done: true}}
	}); err != nil {
		t.Fatal(err)
	}
	before := f.snapshotTrees(t)
	_, err := runQuorumJob(context.Background(), o)
	var ar *AnotherRunError
	if !errors.As(err, &ar) || !errors.Is(err, member.ErrAnotherRunUnfinished) || ar.AbandonedPath == "" || !strings.Contains(strings.Join(ar.Differences, ","), "other masters") {
		t.Fatalf("run over another unfinished run: %v, want *AnotherRunError", err)
	}
	if after := f.snapshotTrees(t); after != before {
		t.Error("the refused run changed the hosts")
	}
}
