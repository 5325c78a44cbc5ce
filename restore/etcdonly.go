package restore

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
)

// The etcd-only restore (OpenShift 4.18 and later), the plan Run builds
// when the cluster's release decides release.GenerationEtcdOnly (and Plan
// when Options.Release states it). It follows the 4.18+ "Restoring to a
// previous cluster state" and its scripts (disable-etcd.sh,
// cluster-restore.sh, the restore pod): only etcd is stopped and restored;
// kube-apiserver, kube-controller-manager and kube-scheduler keep running
// on every host and are never touched; the etcd operator brings the other
// members back once the quorum guard lets it roll a new revision.
//
//	verify-backup                  the generation and its evidence, the backup, every pre-flight check
//	copy-backup                    to RemoteBackupDir on the recovery host
//	stop-etcd/<other>              move etcd-pod.yaml aside, wait until etcd, etcdctl, etcd-metrics,
//	                               etcd-readyz and etcd-rev are gone (disable-etcd.sh)
//	stop-etcd/<recovery>           the same on the recovery host (cluster-restore.sh)
//	move-etcd-data/<recovery>      everything in the data directory, revision.json too, to
//	                               EtcdBackupDir: the directory is left empty, nothing deleted
//	extract-resources/<recovery>   the archive's static-pod-resources (cluster-restore.sh does too)
//	restore-snapshot/<recovery>    --mark-compacted and a bump sized from the moved revision.json
//	                               (one billion without one): the cluster's restore pod with
//	                               revision.json staged beside the snapshot, lifeboat's restore pod,
//	                               or in process (see Decide)
//	start-etcd/<recovery>          the restore pod runs etcd; after an in-process restore the host's
//	                               own etcd-pod.yaml goes back
//	wait-single-member             etcd on the recovery host, the API serving the restored revision
//	recreate-machine/<lost>        as the classic plan (Options.LostMasters)
//	quorum-guard-off               the override recorded as found, then set (see GuardRecord)
//	wait-stable                    every ClusterOperator stable for StablePeriod; when it does not
//	                               settle within StableTimeout, a forced etcd redeployment (the
//	                               documentation's troubleshooting step, reported as such) and again
//	quorum-guard-on                the override put back exactly as found
//	verify-members                 an etcd pod Running on every master, all members available
//	approve-csrs                   pending node-bootstrapper CSRs (unless SkipCSRApproval)
//
// The other masters are not started by hand: their etcd-pod.yaml stays
// aside and the operator's next revision (which the guard holds back
// until it is off) installs a new one, adding each member as a learner.
// The quorum guard is put back on every exit path: the last step on
// success, Run on a failure or a cancel (restoreGuardOnExit), and a run
// resumed after a crash finishes with quorum-guard-on.
func (r *runner) etcdOnlySteps(add func(id, desc string, run func(ctx context.Context, progress func(string)) error)) {
	o := r.opts
	rec := r.deps.Recovery
	add("verify-backup", "decide the procedure generation, verify the backup: snapshot sha256, static pod resources archive, cluster and etcd versions", r.verifyBackup)
	add("copy-backup", "copy the backup directory to "+o.RemoteBackupDir+" on "+rec.Name(), r.copyBackup)
	for _, h := range append(append([]host.Host{}, r.deps.Others...), rec) {
		h := h
		id := "stop-etcd/" + h.Name()
		add(id, "move etcd-pod.yaml out of "+o.ManifestDir+" on "+h.Name()+" and wait for etcd, etcdctl, etcd-metrics, etcd-readyz and etcd-rev to stop (disable-etcd.sh)",
			func(ctx context.Context, progress func(string)) error {
				return r.stopComponents(ctx, h, id, []string{"etcd"}, progress)
			})
	}
	add("move-etcd-data/"+rec.Name(), "move the content of "+o.EtcdDataDir+" (revision.json too) to "+o.EtcdBackupDir+" on "+rec.Name(), r.moveRecoveryData)
	add("extract-resources/"+rec.Name(), "extract the backup's static-pod-resources into "+o.ConfigDir+" on "+rec.Name(), r.extractResources)
	add("restore-snapshot/"+rec.Name(), "restore the snapshot into "+o.EtcdDataDir+" on "+rec.Name()+" as a single-member cluster, revision bumped from revision.json and marked compacted", r.restoreSnapshot)
	add("start-etcd/"+rec.Name(), "start etcd on "+rec.Name()+" (the restore pod, or the host's etcd-pod.yaml after an in-process restore); kube-apiserver, kube-controller-manager and kube-scheduler are untouched",
		func(ctx context.Context, progress func(string)) error { return r.startEtcd(ctx, progress) })
	add("wait-single-member", "wait for etcd on "+rec.Name()+", the API server serving the restored revision, and the etcd pod of "+rec.Name()+" Running", r.waitSingleMember)
	for _, n := range o.LostMasters {
		n := n
		add("recreate-machine/"+n, "delete and re-create the Machine of the lost master "+n+" (member.RecreateMachine)",
			func(ctx context.Context, progress func(string)) error { return r.recreateMachine(ctx, n, progress) })
	}
	add("quorum-guard-off", "record the etcd quorum guard override, then turn the guard off (unsupportedConfigOverrides."+lifecycle.QuorumGuardOverride+")", r.quorumGuardOff)
	add("wait-stable", fmt.Sprintf("wait until every ClusterOperator is Available, not Progressing, not Degraded for %s (oc adm wait-for-stable-cluster); force an etcd redeployment only if it does not settle within %s", o.StablePeriod, o.StableTimeout), r.waitStable)
	add("quorum-guard-on", "put the etcd quorum guard override back as it was found", r.quorumGuardOn)
	add("verify-members", "verify that every master runs an etcd pod and all members are available", r.verifyMembers)
	if !o.SkipCSRApproval {
		add("approve-csrs", "approve pending node-bootstrapper CSRs that match a node or machine", r.approveCSRs)
	}
}

// startEtcd starts etcd on the recovery host. After an in-process restore
// a copy of the revision.json moved aside by move-etcd-data is put back
// into the new data directory first, as the cluster's restore pod does
// (the original stays in EtcdBackupDir); the restore pod starts etcd by
// itself.
func (r *runner) startEtcd(ctx context.Context, progress func(string)) error {
	h := r.deps.Recovery
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	if d.Restore != nil && d.Restore.Method == InProcess {
		moved := movedTo(d, h.Name(), path.Join(r.opts.EtcdDataDir, "revision.json"))
		dst := path.Join(r.opts.EtcdDataDir, "revision.json")
		if ok, err := exists(ctx, h, dst); err != nil {
			return err
		} else if moved != "" && !ok {
			if err := copyOnHost(ctx, h, moved, dst, 0o644); err != nil {
				return fmt.Errorf("putting revision.json back on %s: %w", h.Name(), err)
			}
			progress("put a copy of " + moved + " back to " + dst + " (the original stays)")
		}
	}
	return r.startComponents(ctx, "start-etcd/"+h.Name(), []string{"etcd"}, progress)
}

// waitStable is the documentation's "oc adm wait-for-stable-cluster".
// When the cluster does not settle within StableTimeout, it forces an
// etcd redeployment (the documentation's troubleshooting step when the
// etcd static pods do not roll out), says so, waits for that rollout, and
// waits for a stable cluster once more. The redeployment is recorded in
// the state (Redeploys) before the patch, so a resumed run neither patches
// twice nor forgets it forced one.
func (r *runner) waitStable(ctx context.Context, progress func(string)) error {
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	_, forced := d.Redeploys[string(lifecycle.Etcd)]
	if !forced {
		err := r.stableWait(ctx, progress)
		if err == nil || !errors.Is(err, lifecycle.ErrClusterNotStable) {
			return err
		}
		progress(fmt.Sprintf("the cluster did not settle (%v): forcing an etcd redeployment, the documented troubleshooting step", err))
		if err := r.forceRedeploy(ctx, lifecycle.Etcd, progress); err != nil {
			return err
		}
	} else {
		progress("an earlier attempt forced an etcd redeployment (" + d.Redeploys[string(lifecycle.Etcd)].Reason + "): waiting for it")
	}
	if err := r.waitRollout(ctx, lifecycle.Etcd, progress); err != nil {
		return err
	}
	return r.stableWait(ctx, progress)
}

// stableWait waits, within StableTimeout, first until every master runs
// an etcd pod and every member is available (membersState: the
// ClusterOperators alone can look stable before the operator has even
// started to bring the other members back, and turning the guard on then
// would hold that rollout for good), then for StablePeriod of stable
// ClusterOperators. A timeout of either is a *lifecycle.NotStableError.
func (r *runner) stableWait(ctx context.Context, progress func(string)) error {
	start := r.opts.Now()
	last, err := r.waitMembers(ctx, r.opts.StableTimeout, progress)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("waiting for every master's etcd member (%s): %w", last, ctx.Err())
		}
		return &lifecycle.NotStableError{Waited: r.opts.Now().Sub(start), MinStablePeriod: r.opts.StablePeriod,
			LastError: fmt.Errorf("not every master's etcd member is back: %s", last)}
	}
	left := r.opts.StableTimeout - r.opts.Now().Sub(start)
	if left <= 0 {
		left = r.opts.Interval // the members took it all: one look
	}
	_, err = lifecycle.WaitForStableCluster(ctx, r.deps.Config, lifecycle.StableOptions{
		MinStablePeriod: r.opts.StablePeriod, Timeout: max(left, r.opts.StablePeriod+r.opts.Interval), Interval: r.opts.Interval,
		Logger: r.log, Now: r.opts.Now, // its lines are this step's Progress events (plan.ReportProgress)
	})
	return err
}

// retryAPI runs call until it succeeds or APITimeout passes: the API may
// still be settling after the restore. It reports each new error.
func (r *runner) retryAPI(ctx context.Context, what string, progress func(string), call func(ctx context.Context) error) error {
	last := ""
	err := r.poll(ctx, r.opts.APITimeout, func(ctx context.Context) (bool, error) {
		err := call(ctx)
		if err == nil {
			return true, nil
		}
		if errors.Is(err, lifecycle.ErrInvalidOverrides) {
			return false, err
		}
		if ctx.Err() != nil {
			return false, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		if msg := err.Error(); msg != last {
			progress("retrying: " + msg)
			last = msg
		}
		return false, nil
	})
	if err != nil && last != "" && !errors.Is(err, lifecycle.ErrInvalidOverrides) {
		return fmt.Errorf("%s: %w (last error: %s)", what, err, last)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// now is the run's clock in UTC.
func (r *runner) now() time.Time { return r.opts.Now().UTC() }
