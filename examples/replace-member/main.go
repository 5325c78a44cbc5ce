// Command replace-member replaces the unhealthy etcd member of an OpenShift
// 4 cluster (runbook chapter 2): it identifies the member and its state
// (2.2, 2.3), picks procedure 2.4.1 (machine not running / node not ready)
// or 2.4.2 (etcd pod crashlooping), and runs it step by step.
//
//	replace-member -kubeconfig FILE -backup-dir DIR [-dry-run]
//	    [-etcd-endpoints URLS -etcd-cacert F -etcd-cert F -etcd-key F]  (default: ETCDCTL_* variables)
//	    [-host debug-pod | -host ssh -ssh-addr HOST -ssh-key F -known-hosts F]  (2.4.2 only)
//
// Exit codes: 0 replaced (or, with -dry-run, checked); 2 nothing to replace;
// 3 quorum is lost: restore from a backup instead (runbook 5.3,
// examples/restore); 4 no chapter 2 procedure applies (unknown state, or
// masters not made by the Machine API); 1 other errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/lifeboat-dev/lifeboat/examples/internal/cli"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/host/debugpod"
	"github.com/lifeboat-dev/lifeboat/member"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		kube      cli.KubeFlags
		etcdFlags cli.EtcdFlags
		ssh       cli.SSHFlags
	)
	kube.Register(flag.CommandLine)
	etcdFlags.Register(flag.CommandLine, "etcd-")
	ssh.Register(flag.CommandLine, "ssh-user")
	backupDir := flag.String("backup-dir", "", "etcd backup taken before the replacement (runbook 2.1), verified first")
	skipBackup := flag.Bool("skip-backup-check", false, "proceed without a verified backup (not recommended)")
	dryRun := flag.Bool("dry-run", false, "run the read-only checks (member, quorum, backup, release) and list the other steps; change nothing")
	hostKind := flag.String("host", "debug-pod", "how to reach the crashlooping master for 2.4.2: debug-pod or ssh")
	sshAddr := flag.String("ssh-addr", "", "ssh: host[:port] of the crashlooping master (default: its node name)")
	saveDir := flag.String("save-dir", ".", "2.4.1: where the old Machine and new-master-machine.yaml are saved")
	healthTimeout := flag.Duration("health-timeout", 5*time.Second, "timeout of each member health check")
	interval := flag.Duration("interval", 5*time.Second, "time between status checks")
	version := flag.String("release", "", "the cluster's OpenShift version (e.g. 4.16.3); default: read from ClusterVersion")
	waitMaster := flag.Duration("wait-new-master", 0, "2.4.1 without Machine API: how long to wait for the new master you create by hand")
	flag.Parse()

	ctx, stop := cli.Context()
	defer stop()
	fail := func(code int, err error) int { fmt.Fprintln(os.Stderr, "replace-member:", err); return code }

	api, err := kube.Clients()
	if err != nil {
		return fail(1, err)
	}
	etcd, err := etcdFlags.Client(ctx)
	if err != nil {
		return fail(1, fmt.Errorf("etcd connection: %w (use -etcd-endpoints or ETCDCTL_ENDPOINTS)", err))
	}
	defer etcd.Close()
	deps := member.Deps{Etcd: etcd, Operator: api.Operator, Kube: api.Kube, Machine: api.Machine, Config: api.Config}

	// 2.2 and 2.3.
	f, err := member.FindUnhealthyMember(ctx, deps, member.FindOptions{HealthTimeout: *healthTimeout})
	switch {
	case errors.Is(err, member.ErrQuorumLost):
		return fail(3, err)
	case errors.Is(err, member.ErrNoUnhealthyMember):
		fmt.Println(err)
		return 2
	case err != nil:
		return fail(1, err)
	}
	fmt.Printf("unhealthy member %s (%x) on node %s: %s\n", f.Member.DisplayName(), f.Member.ID, f.Node, f.State)
	for _, e := range f.Evidence {
		fmt.Println("  " + e)
	}
	if f.Disagreement != "" {
		fmt.Println("  note:", f.Disagreement)
	}
	if f.State == member.Healthy {
		fmt.Println("the member is healthy again: it needs no replacement")
		return 2
	}
	if f.State.Procedure() == "" {
		return fail(4, fmt.Errorf("no procedure of chapter 2 applies to state %s", f.State))
	}

	opts := member.ReplaceOptions{
		Node: f.Node, State: f.State, BackupDir: *backupDir, SkipBackupCheck: *skipBackup,
		HealthTimeout: *healthTimeout, Interval: *interval,
		Machine: member.RecreateOptions{SaveDir: *saveDir},
		Release: release.Options{Version: *version}, WaitForNewMaster: *waitMaster,
	}
	if f.State == member.EtcdPodCrashlooping {
		if *dryRun { // stop-etcd is never run by a dry run: no debug pod, no ssh session
			opts.Host = host.NewLocal(f.Node, "/nonexistent", host.LocalOptions{})
		} else if opts.Host, err = openHost(ctx, *hostKind, f.Node, api, *sshAddr, ssh); err != nil {
			return fail(1, err)
		}
		if c, ok := opts.Host.(interface{ Close() error }); ok {
			defer c.Close()
		}
	}
	p, err := member.ReplacePlan(deps, opts)
	if err != nil {
		return fail(1, err)
	}
	fmt.Print(p.Describe())
	if choice, err := member.ChooseProcedure(ctx, deps, opts); err == nil {
		fmt.Println("procedure:", choice)
	}
	// A dry run runs the read-only checks (identify, check-quorum,
	// check-backup, release) and reports the other steps as "would run".
	err = p.Run(ctx, plan.RunOptions{DryRun: *dryRun, Report: func(e plan.Event) { fmt.Println(time.Now().Format("15:04:05"), e) }})
	switch {
	case errors.Is(err, member.ErrQuorumLost):
		return fail(3, err)
	case errors.Is(err, member.ErrNoMachine):
		return fail(4, err)
	case err != nil:
		return fail(1, err)
	}
	if *dryRun {
		return 0
	}
	fmt.Println("etcd member replaced")
	return 0
}

func openHost(ctx context.Context, kind, node string, api *cli.Clients, addr string, ssh cli.SSHFlags) (host.Host, error) {
	switch kind {
	case "debug-pod":
		return debugpod.New(ctx, api.Kube, api.REST, debugpod.Config{Node: node})
	case "ssh":
		dial, err := ssh.Dialer(nil)
		if err != nil {
			return nil, err
		}
		if addr == "" {
			addr = node
		}
		return dial(ctx, node, addr)
	}
	return nil, fmt.Errorf("-host %q: want debug-pod or ssh", kind)
}
