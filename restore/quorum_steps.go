package restore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

// quorumRestorePodAnnotation marks the forced pod written by the quorum
// restore.
const quorumRestorePodAnnotation = "lifeboat.dev/quorum-restore-pod"

// quorumRevisionBump is the bump quorum-restore-pod.yaml applies:
// floor(0.2 × maxRaftIndex) of revision.json, defaultRevisionBump when
// there is none (maxRaftIndex 0).
func quorumRevisionBump(maxRaftIndex uint64) uint64 {
	if maxRaftIndex == 0 {
		return defaultRevisionBump
	}
	return maxRaftIndex / 5
}

// check is the quorum restore's first step: it reads only.
func (r *quorumRunner) check(ctx context.Context, progress func(string)) error {
	rec, err := r.checkQuorum(ctx, progress)
	if err != nil {
		return err
	}
	progress(fmt.Sprintf("%s; revision bump %d (%s)", r.release.Line, rec.Bump, rec.BumpSource))
	if plan.IsDryRun(ctx) {
		return nil
	}
	id := RunIdentity{Recovery: r.deps.Recovery.Name(), Method: ForceNewCluster}
	for _, h := range r.deps.Others {
		id.Others = append(id.Others, h.Name())
	}
	for n := range r.q.Unreachable {
		id.LostMasters = append(id.LostMasters, n)
	}
	id.Others, id.LostMasters = sortedCopy(id.Others), sortedCopy(id.LostMasters)
	return r.state.Update(ctx, func(d *StateData) {
		if d.Plan == "" {
			d.Plan, d.Started = quorumPlanName, r.opts.Now().UTC()
		}
		d.Release, d.Quorum = r.release, rec
		r.recordRun(d, id)
	})
}

// checkQuorum applies every check before any host is touched.
func (r *quorumRunner) checkQuorum(ctx context.Context, progress func(string)) (*QuorumRecord, error) {
	h := r.deps.Recovery
	d, err := r.detect(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &PreflightError{Check: "release", Host: h.Name(), Err: fmt.Errorf(
			"%w; state the cluster's release with Release.Version (\"4.20.3\")", err)}
	}
	line := releaseLine(d, false)
	progress(line)
	if d.Generation != release.GenerationEtcdOnly {
		return nil, &PreflightError{Check: "release", Err: &QuorumRestoreReleaseError{Decision: d}}
	}
	r.release = &ReleaseRecord{Generation: d.Generation, Version: d.Version, Target: d.Target,
		Overridden: d.Overridden, Conflict: d.Conflict, Line: line}
	for _, e := range d.Evidence {
		if e.Decided {
			r.release.Evidence = append(r.release.Evidence, e.String())
		}
	}

	var missing []string
	for _, p := range []string{"member/snap/db", "member/wal"} {
		if ok, err := exists(ctx, h, path.Join(r.opts.EtcdDataDir, p)); err != nil {
			return nil, &PreflightError{Check: "data-dir", Host: h.Name(), Err: err}
		} else if !ok {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return nil, &PreflightError{Check: "data-dir", Host: h.Name(), Err: &NotMemberDirError{Host: h.Name(), Dir: r.opts.EtcdDataDir, Missing: missing}}
	}
	progress("member directory " + r.opts.EtcdDataDir + "/member present on " + h.Name())

	if err := r.checkOthers(ctx, progress); err != nil {
		return nil, &PreflightError{Check: "others", Host: h.Name(), Err: err}
	}

	rec := &QuorumRecord{Bump: r.q.RevisionBump, BumpSource: "QuorumRestoreOptions.RevisionBump", Attested: r.q.Unreachable}
	if rec.Bump == 0 {
		rj := path.Join(r.opts.EtcdDataDir, "revision.json")
		b, err := h.ReadFile(ctx, rj)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			rec.Bump, rec.BumpSource = defaultRevisionBump, "no "+rj+": the default bump"
		case err != nil:
			return nil, &PreflightError{Check: "revision.json", Host: h.Name(), Err: err}
		default:
			rv, err := parseRevisionJSON(b)
			if err != nil {
				return nil, &PreflightError{Check: "revision.json", Host: h.Name(), Err: err}
			}
			rec.Bump = quorumRevisionBump(rv.MaxRaftIndex)
			rec.BumpSource = fmt.Sprintf("0.2 × maxRaftIndex %d of %s", rv.MaxRaftIndex, rj)
		}
	}
	progress(fmt.Sprintf("revision bump %d (%s)", rec.Bump, rec.BumpSource))
	return rec, nil
}

// checkOthers proves every other master stoppable: each host of Others
// answers (its containers can be listed, so stop-etcd can prove its etcd
// stopped), and every member the recovery host's etcd-pod.yaml names is
// the recovery host, in Others, or attested in Unreachable.
func (r *quorumRunner) checkOthers(ctx context.Context, progress func(string)) error {
	bad := map[string]string{}
	known := map[string]bool{r.deps.Recovery.Name(): true}
	for _, h := range r.deps.Others {
		known[h.Name()] = true
		if _, err := h.Containers(ctx, "etcd"); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if why, ok := r.q.Unreachable[h.Name()]; ok {
				progress(h.Name() + " does not answer; attested stopped: " + why)
				continue
			}
			bad[h.Name()] = "does not answer: " + err.Error()
			continue
		}
		progress(h.Name() + " answers: its etcd will be stopped and proven stopped")
	}
	for n, why := range r.q.Unreachable {
		known[n] = true
		progress("UNSAFE: " + n + " attested stopped, not checked: " + why)
	}
	members, where, err := r.namedMembers(ctx)
	if err != nil {
		return err
	}
	for _, m := range members {
		if !known[m] {
			bad[m] = "named in " + where + ", neither given in Others nor attested in Unreachable"
		}
	}
	if len(bad) > 0 {
		return &OthersNotStoppedError{Hosts: bad}
	}
	return nil
}

// namedMembers lists the member names of the recovery host's etcd-pod.yaml
// (its --initial-cluster, or NODE_<name>_ETCD_NAME variables), reading
// the copy stop-etcd moved aside on a resumed run.
func (r *quorumRunner) namedMembers(ctx context.Context) ([]string, string, error) {
	h := r.deps.Recovery
	p := path.Join(r.opts.ManifestDir, "etcd-pod.yaml")
	b, err := h.ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		d, derr := r.state.Get(ctx)
		if derr != nil {
			return nil, "", derr
		}
		if to := movedTo(d, h.Name(), p); to != "" {
			p = to
			b, err = h.ReadFile(ctx, p)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil // nothing names the members: Others and Unreachable stand
	}
	if err != nil {
		return nil, "", err
	}
	var pod corev1.Pod
	if err := yaml.Unmarshal(b, &pod); err != nil {
		return nil, "", fmt.Errorf("parsing %s on %s: %w", p, h.Name(), err)
	}
	seen := map[string]bool{}
	var out []string
	addName := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name != "etcd" {
			continue
		}
		argv := append(append([]string{}, c.Command...), c.Args...)
		for i, a := range argv {
			val := ""
			if v, ok := strings.CutPrefix(a, "--initial-cluster="); ok {
				val = v
			} else if a == "--initial-cluster" && i+1 < len(argv) {
				val = argv[i+1]
			}
			for _, m := range strings.Split(val, ",") {
				if n, _, ok := strings.Cut(m, "="); ok {
					addName(strings.TrimSpace(n))
				}
			}
		}
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "NODE_") && strings.HasSuffix(e.Name, "_ETCD_NAME") {
				addName(e.Value)
			}
		}
	}
	return out, h.Name() + ":" + p, nil
}

// forceNewCluster writes the forced pod: the host's own etcd-pod.yaml
// (moved aside by stop-etcd) with ETCD_FORCE_NEW_CLUSTER and the bump.
func (r *quorumRunner) forceNewCluster(ctx context.Context, progress func(string)) error {
	h := r.deps.Recovery
	step := "force-new-cluster/" + h.Name()
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	if d.Quorum == nil {
		return errors.New("the state has no quorum record: run check first")
	}
	own := movedTo(d, h.Name(), path.Join(r.opts.ManifestDir, "etcd-pod.yaml"))
	if own == "" {
		return fmt.Errorf("the etcd-pod.yaml of %s was not moved aside by stop-etcd", h.Name())
	}
	orig, err := h.ReadFile(ctx, own)
	if err != nil {
		return err
	}
	if d.Quorum.RevisionBefore == 0 {
		if p, ok := h.LocalPath(path.Join(r.opts.EtcdDataDir, "member/snap/db")); ok {
			info := snapshotInfo{Path: p}
			if fi, err := os.Stat(p); err == nil {
				info.Size = fi.Size()
			}
			if err := backup.CheckSnapshotDatabase(ctx, p, &info); err != nil {
				return fmt.Errorf("reading the stopped member's database on %s: %w", h.Name(), err)
			}
			if err := r.state.Update(ctx, func(d *StateData) { d.Quorum.RevisionBefore = info.Revision }); err != nil {
				return err
			}
			d.Quorum.RevisionBefore = info.Revision
			progress(fmt.Sprintf("the member's revision is %d", info.Revision))
		}
	}
	forced, err := forcedEtcdPod(orig, d.Quorum.Bump)
	if err != nil {
		return fmt.Errorf("building the forced etcd pod from %s on %s: %w", own, h.Name(), err)
	}
	progress(fmt.Sprintf("starting the member from %s as a new one-member cluster, revision bump %d", r.opts.EtcdDataDir, d.Quorum.Bump))
	return r.putManifest(ctx, h, step, "etcd", forced)
}

// forcedEtcdPod is etcdPod with ETCD_FORCE_NEW_CLUSTER=true and
// ETCD_FORCE_NEW_CLUSTER_BUMP_AMOUNT=bump on its etcd container (etcd
// reads every flag from its ETCD_ variable, whatever the command form).
func forcedEtcdPod(etcdPod []byte, bump uint64) ([]byte, error) {
	var pod corev1.Pod
	if err := yaml.Unmarshal(etcdPod, &pod); err != nil {
		return nil, err
	}
	found := false
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		if c.Name != "etcd" {
			continue
		}
		found = true
		set := map[string]string{"ETCD_FORCE_NEW_CLUSTER": "true", "ETCD_FORCE_NEW_CLUSTER_BUMP_AMOUNT": strconv.FormatUint(bump, 10)}
		var env []corev1.EnvVar
		for _, e := range c.Env {
			if _, ok := set[e.Name]; !ok {
				env = append(env, e)
			}
		}
		for _, k := range []string{"ETCD_FORCE_NEW_CLUSTER", "ETCD_FORCE_NEW_CLUSTER_BUMP_AMOUNT"} {
			env = append(env, corev1.EnvVar{Name: k, Value: set[k]})
		}
		c.Env = env
	}
	if !found {
		return nil, errors.New("no etcd container")
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[quorumRestorePodAnnotation] = "true"
	return yaml.Marshal(&pod)
}

// waitForced waits for the forced member serving the API, then reports
// whether its etcd applied the bump.
func (r *quorumRunner) waitForced(ctx context.Context, progress func(string)) error {
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	before := d.Quorum.RevisionBefore
	if err := r.waitMemberServing(ctx, before, progress); err != nil {
		return err
	}
	if before == 0 {
		return nil
	}
	list, err := r.deps.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return err
	}
	rv, _ := strconv.ParseInt(list.ResourceVersion, 10, 64)
	applied := rv >= before+int64(d.Quorum.Bump)
	if applied {
		progress(fmt.Sprintf("revision %d: bumped by at least %d from %d", rv, d.Quorum.Bump, before))
	} else {
		progress(fmt.Sprintf("revision %d after %d: this etcd did not apply the bump of %d (upstream etcd has no --force-new-cluster-bump-amount; the cluster's etcd has)", rv, before, d.Quorum.Bump))
	}
	return r.state.Update(ctx, func(d *StateData) { d.Quorum.BumpApplied = &applied })
}

// restoreEtcdPod puts the host's own etcd-pod.yaml back (a copy: the one
// moved aside stays); the forced pod is moved aside by putManifest.
func (r *quorumRunner) restoreEtcdPod(ctx context.Context, progress func(string)) error {
	h := r.deps.Recovery
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	own := movedTo(d, h.Name(), path.Join(r.opts.ManifestDir, "etcd-pod.yaml"))
	if own == "" {
		return fmt.Errorf("the etcd-pod.yaml of %s was not moved aside by stop-etcd", h.Name())
	}
	b, err := h.ReadFile(ctx, own)
	if err != nil {
		return err
	}
	progress("putting " + own + " back to " + r.opts.ManifestDir + "/etcd-pod.yaml")
	return r.putManifest(ctx, h, "restore-etcd-pod/"+h.Name(), "etcd", b)
}
