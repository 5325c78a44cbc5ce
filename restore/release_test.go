package restore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	configv1 "github.com/openshift/api/config/v1"
	configfake "github.com/openshift/client-go/config/clientset/versioned/fake"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// clusterVersionClient is a config client whose ClusterVersion "version"
// completed version (the newest history entry) is v.
func clusterVersionClient(v string) *configfake.Clientset {
	cv := &configv1.ClusterVersion{ObjectMeta: metav1.ObjectMeta{Name: "version"}}
	cv.Status.Desired.Version = v
	cv.Status.History = []configv1.UpdateHistory{{State: configv1.CompletedUpdate, Version: v}}
	return configfake.NewClientset(cv)
}

// apiDownClient is a config client whose API does not answer.
func apiDownClient() *configfake.Clientset {
	c := configfake.NewClientset()
	c.PrependReactor("*", "*", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("injected: connection refused")
	})
	return c
}

// etcdOnlyHost makes the recovery host look like 4.18+: its etcd static
// pod has the etcd-rev container.
func etcdOnlyHost(t *testing.T, f *fixture, node string) {
	t.Helper()
	writeFile(t, filepath.Join(f.roots[node], "etc/kubernetes/manifests/etcd-pod.yaml"),
		etcdPodYAML(node, f.peers[node], 4)+"  - name: etcd-rev\n    image: quay.io/example/etcd@sha256:abc\n")
}

// releaseLineOf is the verify-backup progress line naming the decision.
func releaseLineOf(evs []plan.Event) string {
	for _, e := range evs {
		if e.Step.ID == "verify-backup" && e.Status == plan.Progress && strings.HasPrefix(e.Message, "release ") {
			return e.Message
		}
	}
	return ""
}

// TestReleaseDecision: verify-backup decides the procedure generation
// first, from the ClusterVersion and the recovery host, names it with
// the version and the deciding evidence, and refuses anything but the
// classic generation (unless accepted) before any host is touched, in a
// dry run and in a run.
func TestReleaseDecision(t *testing.T) {
	const rec = "master-0"
	manifest := "from host " + rec + ":/etc/kubernetes/manifests/etcd-pod.yaml"
	cases := []struct {
		name  string
		setup func(t *testing.T, f *fixture, o *job)
		// line are substrings of the release progress line.
		line []string
		// refuse is what the refusal matches; nil: the dry run passes.
		refuse  error
		wantGen release.Generation // of a *ReleaseMismatchError
		// etcdOnly: the dry run lists the etcd-only plan (4.18+).
		etcdOnly bool
	}{
		{name: "classic host, no API client",
			setup: func(t *testing.T, f *fixture, o *job) {},
			line:  []string{"release unknown: generation classic (4.5-4.17)", manifest, "(no etcd-rev)"}},
		{name: "ClusterVersion 4.14.8 decides",
			setup: func(t *testing.T, f *fixture, o *job) { o.Config = clusterVersionClient("4.14.8") },
			line:  []string{"release 4.14.8: generation classic (4.5-4.17), from ClusterVersion clusterversion/version", "completed version 4.14.8"}},
		{name: "API down, the host decides",
			setup: func(t *testing.T, f *fixture, o *job) { o.Config = apiDownClient() },
			line:  []string{"release unknown: generation classic", manifest}},
		{name: "ClusterVersion 4.20.3: the etcd-only plan",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Config = clusterVersionClient("4.20.3")
				etcdOnlyHost(t, f, rec)
			},
			line:     []string{"release 4.20.3: generation etcd-only (4.18+), from ClusterVersion", "completed version 4.20.3"},
			etcdOnly: true},
		{name: "API down, the host's etcd-rev: the etcd-only plan",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Config = apiDownClient()
				etcdOnlyHost(t, f, rec)
			},
			line:     []string{"generation etcd-only (4.18+)", manifest, "etcd-rev"},
			etcdOnly: true},
		{name: "revision.json beside a classic manifest decides nothing",
			setup: func(t *testing.T, f *fixture, o *job) {
				writeFile(t, filepath.Join(f.roots[rec], "var/lib/etcd/revision.json"), `{"maxRaftIndex":5000}`)
			},
			line: []string{"generation classic", manifest}},
		{name: "conflict: ClusterVersion 4.17.9, host etcd-only: the host wins",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Config = clusterVersionClient("4.17.9")
				etcdOnlyHost(t, f, rec)
			},
			line:     []string{"release 4.17.9: generation etcd-only", "disagree"},
			etcdOnly: true},
		{name: "conflict refused by Release.RefuseConflict",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Config = clusterVersionClient("4.17.9")
				o.Release.RefuseConflict = true
				etcdOnlyHost(t, f, rec)
			},
			refuse: release.ErrConflict},
		{name: "ClusterVersion 4.20.3 accepted by AllowClassicOnEtcdOnly",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Config = clusterVersionClient("4.20.3")
				o.AllowClassicOnEtcdOnly = true
				etcdOnlyHost(t, f, rec)
			},
			line: []string{"release 4.20.3: generation etcd-only (4.18+)", "runs anyway, as Options.AllowClassicOnEtcdOnly asks"}},
		{name: "Release.Generation classic overrides the host",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Release.Generation = release.GenerationClassic
				etcdOnlyHost(t, f, rec)
			},
			line: []string{"generation classic (4.5-4.17), from override Options.Generation"}},
		{name: "Release.Version 4.19.1: the etcd-only plan",
			setup: func(t *testing.T, f *fixture, o *job) {
				o.Release.Version = "4.19.1"
				o.Config = apiDownClient()
			},
			line:     []string{"release 4.19.1: generation etcd-only (4.18+), from override Options.Version"},
			etcdOnly: true},
		{name: "nothing decides: the classic procedure, said so",
			setup: func(t *testing.T, f *fixture, o *job) {
				if err := os.Remove(filepath.Join(f.roots[rec], "etc/kubernetes/manifests/etcd-pod.yaml")); err != nil {
					t.Fatal(err)
				}
			},
			line: []string{"release unknown: nothing decided", "the classic procedure (4.5-4.17) runs", "state the release"}},
		{name: "unsupported release",
			setup:  func(t *testing.T, f *fixture, o *job) { o.Config = clusterVersionClient("4.4.9") },
			refuse: release.ErrUnsupportedRelease},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			// A classic recovery host unless the case says otherwise.
			if err := os.Remove(filepath.Join(f.roots[rec], "var/lib/etcd/revision.json")); err != nil {
				t.Fatal(err)
			}
			o := f.options(rec)
			o.Release = release.Options{}
			tc.setup(t, f, &o)
			o.DryRun = true
			var evs []plan.Event
			o.Report = collect(&evs)
			before := f.snapshotTrees(t)

			_, err := runJob(context.Background(), o)
			line := releaseLineOf(evs)
			t.Logf("dry run: %s; err %v", line, err)
			for _, want := range tc.line {
				if !strings.Contains(line, want) {
					t.Errorf("release line %q lacks %q", line, want)
				}
			}
			if tc.refuse == nil {
				if err != nil {
					t.Fatalf("dry run: %v", err)
				}
				checkPlanGeneration(t, evs, tc.etcdOnly)
				return
			}
			checkReleaseRefusal(t, err, tc.refuse, tc.wantGen)

			// The run is refused the same way, touching nothing.
			o.DryRun, o.Report = false, nil
			state, err := runJob(context.Background(), o)
			checkReleaseRefusal(t, err, tc.refuse, tc.wantGen)
			if state != nil && (state.Release != nil || len(state.Finished) > 0) {
				t.Errorf("refused run recorded %+v", state)
			}
			if after := f.snapshotTrees(t); after != before {
				t.Errorf("a refused restore changed the hosts")
			}
		})
	}
}

// checkPlanGeneration checks that a dry run listed the etcd-only plan
// (only etcd stopped, the quorum guard turned off and on) or the classic
// one (every static pod stopped, the operators forced to redeploy).
func checkPlanGeneration(t *testing.T, evs []plan.Event, etcdOnly bool) {
	t.Helper()
	steps := map[string]bool{}
	for _, e := range evs {
		steps[e.Step.ID] = true
	}
	etcdOnlySteps := []string{"quorum-guard-off", "wait-stable", "quorum-guard-on", "start-etcd/master-0", "stop-etcd/master-0"}
	classicSteps := []string{"stop-static-pods/master-0", "force-redeploy/etcd", "restart-kubelet/master-0", "start-control-plane/master-0"}
	// The classic plan of 4.11-4.17 (and of an unknown release) toggles
	// the quorum guard too (TestClassicPlanQuorumGuardSteps).
	want, notWant := classicSteps, etcdOnlySteps[3:]
	notWant = append(notWant, "wait-stable")
	if etcdOnly {
		want, notWant = etcdOnlySteps, classicSteps
	}
	for _, id := range want {
		if !steps[id] {
			t.Errorf("the dry run lists no step %s (etcd-only plan: %v)", id, etcdOnly)
		}
	}
	for _, id := range notWant {
		if steps[id] {
			t.Errorf("the dry run lists step %s (etcd-only plan: %v)", id, etcdOnly)
		}
	}
}

func checkReleaseRefusal(t *testing.T, err, want error, gen release.Generation) {
	t.Helper()
	var pe *PreflightError
	if !errors.As(err, &pe) || pe.Check != "release" || !errors.Is(err, want) {
		t.Fatalf("err = %v, want a *PreflightError of check release matching %v", err, want)
	}
	if !strings.Contains(err.Error(), "Options.Release.Version") {
		t.Errorf("the refusal does not say how to state the release: %v", err)
	}
	if !errors.Is(want, ErrProcedureNotForRelease) {
		return
	}
	var me *ReleaseMismatchError
	if !errors.As(err, &me) || me.Decision.Generation != gen || len(me.Decision.Evidence) == 0 {
		t.Fatalf("err = %v, want a *ReleaseMismatchError of generation %s with its evidence", err, gen)
	}
	for _, want := range []string{"lifeboat found generation " + gen.String(), "stops etcd, kube-apiserver, kube-controller-manager and kube-scheduler", "disable-etcd.sh", "Options.AllowClassicOnEtcdOnly"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
}

// TestReleaseAcceptedRecorded: a classic restore run on an etcd-only
// cluster by AllowClassicOnEtcdOnly records the decision and the
// acceptance in the run's state.
func TestReleaseAcceptedRecorded(t *testing.T) {
	f := newFixture(t)
	etcdOnlyHost(t, f, "master-0")
	o := patient(f.options("master-0"))
	o.Release = release.Options{}
	o.Config = clusterVersionClient("4.20.3")
	o.ClusterVersion = "" // the backup says 4.5.2: the run is about the generation only
	o.AllowClassicOnEtcdOnly = true
	d, err := runJob(context.Background(), o)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	r := d.Release
	if r == nil || r.Generation != release.GenerationEtcdOnly || r.Version != "4.20.3" || !r.ClassicAccepted ||
		len(r.Evidence) == 0 || !strings.Contains(r.Evidence[0], "completed version 4.20.3") || !strings.Contains(r.Line, "runs anyway") {
		t.Fatalf("state's release record %+v", r)
	}
	b, err := os.ReadFile(filepath.Join(f.roots["master-0"], d.RetiredTo))
	if err != nil || !strings.Contains(string(b), `"generation": "etcd-only"`) || !strings.Contains(string(b), `"classicAccepted": true`) {
		t.Errorf("state file %s: %v\n%s", d.RetiredTo, err, b)
	}
}

// TestReleaseResumedReportsRecorded: a resumed run reports the decision
// its first run recorded, not a new one (mid-restore the API and the
// host's manifests no longer show what they showed).
func TestReleaseResumedReportsRecorded(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	o := f.options("master-0")
	o.Release = release.Options{}
	o.Config = clusterVersionClient("4.14.8")
	o.ClusterVersion = ""
	f.failRestarts["master-1"] = 1
	var ev1 []plan.Event
	o.Report = collect(&ev1)
	os.Remove(filepath.Join(f.roots["master-0"], "var/lib/etcd/revision.json"))
	if _, err := runJob(ctx, o); err == nil {
		t.Fatal("first run did not fail")
	}
	first := releaseLineOf(ev1)
	if !strings.Contains(first, "release 4.14.8: generation classic") {
		t.Fatalf("first run's release line %q", first)
	}

	o.Config = apiDownClient()
	var ev2 []plan.Event
	o.Report = collect(&ev2)
	d, err := runJob(ctx, o)
	if err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	var msg string
	for _, e := range ev2 {
		if e.Step.ID == "verify-backup" {
			msg = e.Message
		}
	}
	if !strings.Contains(msg, "finished in an earlier run") || !strings.Contains(msg, "recorded: "+first) {
		t.Errorf("resumed run's verify-backup: %q, want the recorded %q", msg, first)
	}
	if d.Release == nil || d.Release.Line != first {
		t.Errorf("resumed run's state %+v", d.Release)
	}
}

func TestReleaseInvalidOptions(t *testing.T) {
	f := newFixture(t)
	o := f.options("master-0")
	o.Release = release.Options{Version: "four"}
	if _, err := planJob(o); !errors.Is(err, lifeboat.ErrInvalidOptions) || !errors.Is(err, release.ErrInvalidVersion) {
		t.Fatalf("Plan: %v, want lifeboat.ErrInvalidOptions and release.ErrInvalidVersion", err)
	}
}
