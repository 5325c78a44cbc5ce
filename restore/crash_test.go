package restore_test

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	operatorfake "github.com/openshift/client-go/operator/clientset/versioned/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/hosttest"
	"github.com/lifeboat-dev/lifeboat/internal/crashtest"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/restore"
	"github.com/lifeboat-dev/lifeboat/restore/inprocess"
)

// The crash drill (runbook 5.3 under SIGKILL): the restore plan runs in a
// child process that kills itself with SIGKILL inside one step; a second
// child runs the plan again, which must resume and finish; the parent
// then checks the drill's end state. Which steps: internal/crashtest.Select
// (a random sample of three, the seed printed; LIFEBOAT_CRASH_STEPS=all
// for the full matrix, see hack/crash-matrix.sh). Each case starts its own
// simulated cluster: about 2-4 minutes on a busy two-core machine.

// Placeholder host names the matrix's step IDs are written with; a case
// maps them to the cluster's node names.
const (
	phRecovery = "recovery"
	phOther1   = "other-1"
	phOther2   = "other-2"
)

// crashParams are the restore options a child gets (the hosts by name).
type crashParams struct {
	BackupDir      string   `json:"backupDir"`
	Recovery       string   `json:"recovery"`
	Others         []string `json:"others"`
	LostMasters    []string `json:"lostMasters,omitempty"`
	ClusterVersion string   `json:"clusterVersion"`
	// DetectRelease gives the child the config client, so that the
	// ClusterVersion decides the procedure (etcd-only drills);
	// StablePeriod is then the stable wait's period.
	DetectRelease bool          `json:"detectRelease,omitempty"`
	StablePeriod  time.Duration `json:"stablePeriod,omitempty"`
	// Quorum runs restore.RunQuorumRestore (no backup) instead.
	Quorum bool `json:"quorum,omitempty"`
}

// crashStep is one row of the matrix: a step ID with placeholder host
// names, and whether it needs the drill with a lost master (5.2).
type crashStep struct {
	id   string
	lost bool
}

// planIDs lists the step IDs of the drill's restore plan, with
// placeholder host names; lost: the plan with a lost master (5.2).
func planIDs(t *testing.T, lost bool) []string {
	t.Helper()
	// Building a plan touches no host: any host operation would fail.
	local := func(n string) host.Host { return hosttest.Unimplemented(n) }
	deps := restore.Deps{InProcess: inprocess.WriteDataDir, Recovery: local(phRecovery), Others: []host.Host{local(phOther1), local(phOther2)},
		Kube: kubefake.NewClientset(), Operator: operatorfake.NewClientset(), Machine: machinefake.NewClientset()}
	o := restore.Options{BackupDir: t.TempDir(), ClusterVersion: "4.5.2"} // the drill's release, which the child states too
	if lost {
		deps.Others, o.LostMasters = []host.Host{local(phOther2)}, []string{phOther1}
	}
	p, err := restore.Plan(deps, o)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.ID)
	}
	return out
}

// crashSteps lists every step of the restore plan, from the plan itself:
// the steps of the drill (two other masters, etcd killed), then those
// only the plan with a lost master has.
func crashSteps(t *testing.T) []crashStep {
	t.Helper()
	var out []crashStep
	seen := map[string]bool{}
	for _, lost := range []bool{false, true} {
		for _, id := range planIDs(t, lost) {
			if !seen[id] {
				seen[id] = true
				out = append(out, crashStep{id: id, lost: lost})
			}
		}
	}
	return out
}

// TestCrashHelper is the child: it runs the restore plan of its spec.
func TestCrashHelper(t *testing.T) {
	c := crashtest.OpenChild(t)
	var p crashParams
	c.Params(t, &p)
	deps := restore.Deps{
		InProcess: inprocess.WriteDataDir,
		Recovery:  c.Host(t, p.Recovery),
		Kube:      c.Kube,
		Operator:  c.Operator,
		Machine:   c.Machine,
	}
	opts := restore.Options{
		BackupDir:      p.BackupDir,
		LostMasters:    p.LostMasters,
		ClusterVersion: p.ClusterVersion,
		Interval:       200 * time.Millisecond,
		APITimeout:     3 * time.Minute, ContainerTimeout: time.Minute, RolloutTimeout: 3 * time.Minute,
	}
	run := plan.RunOptions{Report: c.Report}
	for _, n := range p.Others {
		deps.Others = append(deps.Others, c.Host(t, n))
	}
	if p.DetectRelease {
		deps.Config, opts.StablePeriod = c.Config, p.StablePeriod
	}
	if p.Quorum {
		deps.Config = c.Config
		q := restore.QuorumRestoreOptions{Interval: opts.Interval, APITimeout: opts.APITimeout, ContainerTimeout: opts.ContainerTimeout,
			StablePeriod: p.StablePeriod, StableTimeout: 4 * time.Minute}
		if _, err := restore.RunQuorumRestore(t.Context(), deps, q, run); err != nil {
			t.Fatalf("quorum restore: %v", err)
		}
		return
	}
	if _, err := restore.Run(t.Context(), deps, opts, run); err != nil {
		t.Fatalf("restore: %v", err)
	}
}

func TestCrashRestoreEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("each case starts a whole simulated cluster")
	}
	steps := crashSteps(t)
	var ids []string
	lost := map[string]bool{}
	for _, s := range steps {
		ids = append(ids, s.id)
		lost[s.id] = s.lost
	}
	for _, cs := range crashtest.Select(t, ids) {
		t.Run(cs.Name(), func(t *testing.T) { crashRestoreCase(t, cs, lost[cs.Step]) })
	}
}

// crashRestoreCase runs one case and records its summary row.
func crashRestoreCase(t *testing.T, cs crashtest.Case, lost bool) {
	row := crashtest.Row{Plan: "restore", Step: cs.Step, At: cs.Point}
	var d *drill
	defer func() {
		if d != nil {
			row.Elapsed = time.Since(d.began)
		}
		if t.Failed() && row.Note == "" {
			row.Note = "see the test log"
		}
		crashtest.Record(t, row)
	}()
	d = startDrill(t, lost) // runs in parallel with the other cases
	names := map[string]string{phRecovery: d.recovery, phOther1: d.others[0], phOther2: d.others[1]}
	real := func(id string) string {
		if s, n, ok := strings.Cut(id, "/"); ok && names[n] != "" {
			return s + "/" + names[n]
		}
		return id
	}
	params := crashParams{BackupDir: d.backupDir, Recovery: d.recovery, Others: d.others, ClusterVersion: "4.5.2"}
	if lost {
		params.Others, params.LostMasters = d.others[1:], d.others[:1]
	}
	spec := crashtest.Spec{
		Kubeconfig: d.c.KubeconfigPath,
		RuntimeURL: crashtest.ServeRuntime(t, func(n string) host.Host {
			if h := d.c.Host(n); h != nil {
				return h
			}
			return nil
		}),
		StateHost: d.recovery,
		StatePath: restore.DefaultStatePath,
		KillStep:  real(cs.Step),
		KillAt:    cs.Point,
	}
	for _, n := range append([]string{d.recovery}, params.Others...) {
		spec.Hosts = append(spec.Hosts, crashtest.HostSpec{Name: n, Root: d.c.Host(n).Root()})
	}
	var err error
	if spec.Params, err = json.Marshal(params); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	first := crashtest.Run(t, spec, dir, "killed", 15*time.Minute)
	row.Point = first.Point
	row.KilledInStep = first.Killed && first.InStep
	t.Logf("first child: killed %v in step %v at %q after %s", first.Killed, first.InStep, first.Point, first.Elapsed.Round(time.Second))
	if first.Err != nil || !row.KilledInStep {
		row.Note = fmt.Sprintf("first run not killed in the step: %v", first.Err)
		t.Fatalf("%s; log:\n%s", row.Note, crashtest.Tail(first.Log, 60))
	}

	spec.KillStep, spec.KillAt = "", ""
	second := crashtest.Run(t, spec, dir, "resumed", 15*time.Minute)
	t.Logf("second child: %s, err %v", second.Elapsed.Round(time.Second), second.Err)
	if second.Err != nil {
		row.Note = "resume failed: " + lastError(second.Log)
		d.c.LogTails(t, 40)
		t.Fatalf("resumed run: %v", second.Err)
	}
	row.Resumed = true
	// The resumed run skips exactly the steps before the one killed.
	if n, want := resumedSkips(t, second.Log), stepIndex(t, lost, cs.Step); n != want {
		row.Note = fmt.Sprintf("the resumed run skipped %d steps as finished, want the %d before %s", n, want, cs.Step)
		t.Error(row.Note)
	}

	before := t.Failed()
	d.check(t)
	checkRestoreState(t, d, lost, real)
	if lost {
		checkLostReplaced(t, d)
	}
	row.Verified = !t.Failed() && !before
	if !row.Verified && row.Note == "" {
		row.Note = "end state not verified (see the test log)"
	}
}

// checkRestoreState checks the plan's state after the resumed run: every
// step finished, every move aside made and its destination still there.
func checkRestoreState(t *testing.T, d *drill, lost bool, real func(string) string) {
	t.Helper()
	ctx := t.Context()
	// A finished run retires its state: read the newest retired file.
	h := d.c.Host(d.recovery)
	dir, base := path.Split(restore.DefaultStatePath)
	prefix := strings.TrimSuffix(base, ".json") + ".finished-"
	entries, err := h.ReadDir(ctx, dir)
	if err != nil {
		t.Fatalf("listing %s: %v", dir, err)
	}
	retired := ""
	for _, e := range entries { // sorted by name: the newest finish time last
		if strings.HasPrefix(e.Name, prefix) {
			retired = path.Join(dir, e.Name)
		}
	}
	if retired == "" {
		t.Fatalf("no retired restore state (%s*) in %s on %s: the run did not finish", prefix, dir, d.recovery)
	}
	st, err := restore.NewState(h, retired).Get(ctx)
	if err != nil {
		t.Fatalf("restore state %s: %v", retired, err)
	}
	for _, id := range planIDs(t, lost) {
		if _, ok := st.Finished[real(id)]; !ok {
			t.Errorf("the state does not record step %s as finished", real(id))
		}
	}
	for _, m := range st.Moves {
		if !m.Done {
			t.Errorf("move aside %s -> %s on %s (step %s) never made", m.From, m.To, m.Host, m.Step)
			continue
		}
		h := d.c.Host(m.Host)
		if h == nil {
			continue
		}
		if _, err := h.Stat(ctx, m.To); err != nil {
			t.Errorf("moved-aside %s on %s is lost (step %s): %v", m.To, m.Host, m.Step, err)
		}
	}
}

func checkLostReplaced(t *testing.T, d *drill) {
	t.Helper()
	masters := d.c.Masters()
	if len(masters) != 3 {
		t.Errorf("masters after the restore: %v", masters)
	}
	for _, n := range masters {
		if n == d.others[0] {
			t.Errorf("lost master %s is still a node", n)
		}
	}
}

// stepIndex is the position of id in the plan of the drill (lost: with a
// lost master).
func stepIndex(t *testing.T, lost bool, id string) int {
	t.Helper()
	for i, s := range planIDs(t, lost) {
		if s == id {
			return i
		}
	}
	t.Fatalf("no step %s", id)
	return -1
}

// resumedSkips counts the steps a child reported as finished in an earlier
// run.
func resumedSkips(t *testing.T, log string) int {
	t.Helper()
	return strings.Count(crashtest.Tail(log, 100000), "skipped: finished in an earlier run")
}

// lastError is the child's failure line.
func lastError(log string) string {
	lines := strings.Split(crashtest.Tail(log, 200), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], "restore: ") || strings.Contains(lines[i], "failed") {
			return strings.TrimSpace(lines[i])
		}
	}
	return "see " + filepath.Base(log)
}
