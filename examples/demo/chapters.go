package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/member"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/restore"
	"github.com/lifeboat-dev/lifeboat/restore/inprocess"
)

// The namespace an administrator will delete in chapter 5.
const precious = "payments"

// poll is how the demo waits for the simulation to react.
func poll(ctx context.Context, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, cond)
}

// takeBackup is runbook 1.1 from the first master into a new directory
// under root, verified afterwards; d.backup is the newest backup.
func (d *demo) takeBackup(ctx context.Context, root string) error {
	d.backups++
	dir := filepath.Join(root, fmt.Sprintf("backup-%d", d.backups))
	// backup.TakePlan's precheck refuses while an operator rolls out (its pre-check, as
	// cluster-backup.sh's); after a member replacement or a restart the
	// etcd operator may still be installing the revision that follows the
	// new membership. Wait as "oc adm wait-for-stable-cluster" would.
	if _, err := lifecycle.WaitForStableCluster(ctx, d.c.Config, lifecycle.StableOptions{
		MinStablePeriod: 2 * time.Second, Timeout: 3 * time.Minute, Interval: 200 * time.Millisecond, Logger: d.logger,
	}); err != nil {
		return fmt.Errorf("waiting for a stable cluster before the backup: %w", err)
	}
	etcd, err := d.c.EtcdClient(ctx)
	if err != nil {
		return err
	}
	defer etcd.Close()
	from := d.c.Masters()[0]
	b := new(backup.Backup)
	take, err := backup.TakePlan(backup.TakeDeps{Etcd: etcd, Host: d.c.Host(from), Config: d.c.Config},
		backup.TakeOptions{Dir: dir, MinClusterAge: -1, Logger: d.logger, Result: b}) // the simulated cluster was installed seconds ago
	if err == nil {
		err = take.Run(ctx, plan.RunOptions{})
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	d.say("backup from %s: %s (%d bytes, revision %d, etcd %s, cluster %s) and %s",
		from, b.Snapshot.Name, b.Snapshot.Size, b.Revision, b.EtcdVersion, b.ClusterVersion, b.Resources.Name)
	v, err := backup.Verify(ctx, dir, backup.VerifyOptions{Timestamp: b.Timestamp})
	if err == nil && v.Snapshot.SHA256 != b.Snapshot.SHA256 {
		err = errors.New("Verify read another snapshot than TakePlan wrote")
	}
	if d.verify("the backup is whole: sha256 trailer, bolt database, archive with the 4 component directories, manifest checksums", err) {
		d.backup = dir
	}
	return nil
}

// chapter1 creates the data worth keeping, then backs it up.
func (d *demo) chapter1(ctx context.Context, dir string) error {
	d.chapter("Chapter 1: back up etcd")
	kube := d.c.Kube
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: precious}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := kube.CoreV1().ConfigMaps(precious).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"currency": "EUR"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := kube.CoreV1().Secrets(precious).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "gateway"}, Data: map[string][]byte{"token": []byte("do-not-lose")}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	d.say("created namespace %s with ConfigMap settings and Secret gateway", precious)
	return d.takeBackup(ctx, dir)
}

func (d *demo) memberDeps(ctx context.Context) (member.Deps, func(), error) {
	etcd, err := d.c.EtcdClient(ctx)
	if err != nil {
		return member.Deps{}, nil, err
	}
	return member.Deps{Etcd: etcd, Kube: d.c.Kube, Operator: d.c.Operator, Machine: d.c.Machine}, func() { etcd.Close() }, nil
}

// chapter2 stops a master's machine and replaces its member (2.4.1).
func (d *demo) chapter2(ctx context.Context, dir string) error {
	d.chapter("Chapter 2: a master machine stops; replace its etcd member")
	victim := d.c.Masters()[0]
	if err := d.c.StopMachine(ctx, victim); err != nil {
		return err
	}
	d.say("stopped the machine of %s (%s)", victim, d.c.MachineName(victim))
	deps, done, err := d.memberDeps(ctx)
	if err != nil {
		return err
	}
	defer done()
	var f *member.Finding
	err = poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		f, err = member.FindUnhealthyMember(ctx, deps, member.FindOptions{HealthTimeout: 2 * time.Second, Logger: d.logger})
		return err == nil && f.Node == victim && f.State == member.MachineNotRunning && f.Disagreement == "", nil
	})
	if !d.verify(fmt.Sprintf("FindUnhealthyMember names %s, state %s", victim, member.MachineNotRunning), err) {
		return nil
	}
	for _, e := range f.Evidence {
		d.say("  evidence: %s", e)
	}
	p, err := member.ReplacePlan(deps, member.ReplaceOptions{Node: f.Node, State: f.State, BackupDir: d.backup,
		Interval: 200 * time.Millisecond, HealthTimeout: 2 * time.Second, Logger: d.logger})
	if err != nil {
		return err
	}
	d.say("the plan (dry run):\n%s", indent(p.Describe()))
	if err := p.Run(ctx, plan.RunOptions{Report: d.report}); err != nil {
		return err
	}
	v, err := member.Verify(ctx, deps, member.VerifyOptions{Gone: victim, HealthTimeout: 2 * time.Second})
	if err == nil && !v.OK() {
		err = errors.New(strings.Join(v.Problems, "; "))
	}
	if d.verify("exactly three started, healthy members and an etcd pod Running on every master", err) {
		d.say("%s", indent(v.Summary()))
	}
	return nil
}

// chapter34 shuts the cluster down and restarts it with expired kubelet
// certificates, whose CSRs Restart reviews and approves.
func (d *demo) chapter34(ctx context.Context, dir string) error {
	d.chapter("Chapters 3 and 4: shut the cluster down gracefully, then restart it")
	if err := d.takeBackup(ctx, dir); err != nil { // 3.1: a backup first
		return err
	}
	nodes := append(d.c.Masters(), d.c.Workers()...)
	res := &lifecycle.ShutdownResult{}
	p, err := lifecycle.ShutdownPlan(lifecycle.Deps{Kube: d.c.Kube, Hosts: d.hosts}, lifecycle.ShutdownOptions{BackupDir: d.backup, Logger: d.logger, Result: res})
	if err != nil {
		return err
	}
	if err := p.Run(ctx, plan.RunOptions{Report: d.report}); err != nil {
		return err
	}
	d.say("shutdown -h 1 sent to %d nodes; reminder: %s", len(res.Nodes), lifecycle.SchedulableReminder)
	err = poll(ctx, 2*time.Minute, func(context.Context) (bool, error) {
		for _, n := range nodes {
			if d.c.Host(n).Powered() {
				return false, nil
			}
		}
		return !d.c.APIServerRunning(), nil
	})
	d.verify("every host is powered off", err)

	// 4.2 step 2: start all machines (as from the cloud console); the
	// cluster slept past its kubelet certificates' expiry.
	for _, n := range nodes {
		if err := d.c.Host(n).PowerOn(); err != nil {
			return err
		}
	}
	for _, n := range nodes {
		if err := poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) { return d.c.StartMachine(ctx, n) == nil, nil }); err != nil {
			return fmt.Errorf("starting the machine of %s: %w", n, err)
		}
	}
	if err := d.c.ExpireNodeCertificates(ctx, nodes...); err != nil {
		return err
	}
	// What the administrator finds after power-on: every node NotReady,
	// its kubelet unable to authenticate.
	err = poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		list, err := d.c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != len(nodes) {
			return false, nil
		}
		for _, n := range list.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return false, nil
				}
			}
		}
		return true, nil
	})
	d.verify("machines started; every node NotReady, its kubelet client certificate expired", err)
	rr := &lifecycle.RestartResult{}
	p, err = lifecycle.RestartPlan(lifecycle.Deps{Kube: d.c.Kube, Config: d.c.Config, Machine: d.c.Machine}, lifecycle.RestartOptions{
		Interval: 200 * time.Millisecond, MastersTimeout: 3 * time.Minute, WorkersTimeout: 3 * time.Minute, OperatorsTimeout: 3 * time.Minute,
		Logger: d.logger, Result: rr,
	})
	if err == nil {
		err = p.Run(ctx, plan.RunOptions{Report: d.report})
	}
	approved := 0
	{
		for _, dec := range rr.CSRs {
			if dec.Outcome == "Approved" {
				approved++
			}
		}
	}
	if d.verify("every node Ready and no ClusterOperator degraded after the restart", err) {
		d.say("%d masters and %d workers Ready, %d CSRs approved, %d ClusterOperators available", len(rr.Masters), len(rr.Workers), approved, len(rr.Operators))
	}
	return nil
}

// chapter5 deletes a namespace, loses two masters and restores the backup.
func (d *demo) chapter5(ctx context.Context, dir string) error {
	d.chapter("Chapter 5: a namespace is deleted and two masters are lost; restore the previous cluster state")
	kube := d.c.Kube
	if err := d.takeBackup(ctx, dir); err != nil { // the backup the restore uses: the cluster as it is now
		return err
	}
	if err := kube.CoreV1().Namespaces().Delete(ctx, precious, metav1.DeleteOptions{}); err != nil {
		return err
	}
	if _, err := kube.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "written-after-backup"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	d.say("deleted namespace %s; wrote ConfigMap default/written-after-backup", precious)
	masters := d.c.Masters()
	recovery, lost := masters[0], masters[1:]
	for _, n := range lost {
		if err := poll(ctx, time.Minute, func(ctx context.Context) (bool, error) { return d.c.LoseHost(ctx, n) == nil, nil }); err != nil {
			return fmt.Errorf("losing %s: %w", n, err)
		}
	}
	d.say("lost masters %v with their disks: etcd quorum is gone", lost)

	rdeps := restore.Deps{Recovery: d.c.Host(recovery), Kube: kube, Operator: d.c.Operator, Machine: d.c.Machine,
		InProcess: inprocess.WriteDataDir}
	opts := restore.Options{BackupDir: d.backup, LostMasters: lost, ClusterVersion: "4.5.2",
		Interval: 200 * time.Millisecond, APITimeout: 5 * time.Minute, ContainerTimeout: 2 * time.Minute, RolloutTimeout: 5 * time.Minute,
		Logger: d.logger}
	p, err := restore.Plan(rdeps, opts)
	if err != nil {
		return err
	}
	d.say("the plan (dry run):\n%s", indent(p.Describe()))
	if _, err := restore.Run(ctx, rdeps, opts, plan.RunOptions{Report: d.report}); err != nil {
		return err
	}

	cm, err := kube.CoreV1().ConfigMaps(precious).Get(ctx, "settings", metav1.GetOptions{})
	if err == nil && cm.Data["currency"] != "EUR" {
		err = fmt.Errorf("data %v", cm.Data)
	}
	d.verify(fmt.Sprintf("namespace %s and its ConfigMap are back with their data", precious), err)
	sec, err := kube.CoreV1().Secrets(precious).Get(ctx, "gateway", metav1.GetOptions{})
	if err == nil && string(sec.Data["token"]) != "do-not-lose" {
		err = errors.New("secret data differs")
	}
	d.verify("its Secret is back with its data", err)
	_, err = kube.CoreV1().ConfigMaps("default").Get(ctx, "written-after-backup", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		err = nil
	} else if err == nil {
		err = errors.New("still there")
	}
	d.verify("the object written after the backup is gone", err)
	for _, op := range lifecycle.StaticPodOperators() {
		st, err := lifecycle.Revisions(ctx, d.c.Operator, op)
		if err == nil && !st.AllAtLatest() {
			err = errors.New(st.Summary())
		}
		if d.verify(fmt.Sprintf("%s: all nodes at the latest revision", op), err) {
			d.say("  %s", st.Summary())
		}
	}
	deps, done, err := d.memberDeps(ctx)
	if err != nil {
		return err
	}
	defer done()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	v, err := member.WaitVerified(wctx, deps, member.VerifyOptions{HealthTimeout: 2 * time.Second}, 500*time.Millisecond, nil)
	if err == nil && !v.OK() {
		err = errors.New(strings.Join(v.Problems, "; "))
	}
	if d.verify("three healthy members, an etcd pod Running on every master", err) {
		d.say("%s", indent(v.Summary()))
	}
	return nil
}

func indent(s string) string {
	return "     " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n     ")
}
