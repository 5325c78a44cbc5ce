// Command shutdown shuts an OpenShift cluster down gracefully (runbook
// chapter 3): it checks the etcd backup taken beforehand, lists the nodes
// and runs "sudo shutdown -h 1" on each over SSH, as the runbook's loop does.
//
//	shutdown -kubeconfig FILE -backup-dir DIR [-ssh-key FILE] [-known-hosts FILE] [-dry-run]
//	shutdown -kubeconfig FILE -override "reason" ...
//	shutdown ... -planned-duration 720h -drain   (current releases' guidance)
//
// With -planned-duration the kube-apiserver-to-kubelet signer must outlast
// the shutdown; -cordon marks every node unschedulable first and -drain
// also evicts the workers' pods. The nodes it cordoned are printed for
// "restart -uncordon". Host keys are checked against known_hosts; there is
// no insecure mode. Exit codes: 0 every node will power off; 2 refused: no
// recent verified backup, or the signer expires before the planned
// restart; 3 some nodes could not be told to shut down; 1 other errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/examples/internal/cli"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		kubeFlags cli.KubeFlags
		ssh       cli.SSHFlags
	)
	kubeFlags.Register(flag.CommandLine)
	ssh.Register(flag.CommandLine, "ssh-user")
	backupDir := flag.String("backup-dir", "", "directory of the etcd backup taken before the shutdown (verified)")
	maxAge := flag.Duration("max-backup-age", 24*time.Hour, "how old the backup may be")
	override := flag.String("override", "", "reason to shut down without a verified backup")
	dryRun := flag.Bool("dry-run", false, "check the backup and list the nodes, touch no host")
	parallel := flag.Int("parallel", 10, "hosts told to shut down at once")
	delay := flag.Duration("delay", time.Minute, "delay before the hosts halt (shutdown -h 1); 0 halts at once")
	byIP := flag.Bool("ssh-internal-ip", false, "connect to each node's InternalIP instead of its name")
	planned := flag.Duration("planned-duration", 0, "how long the cluster stays off; refused if the kubelet signer expires before the restart")
	ignoreSigner := flag.Bool("ignore-signer-expiry", false, "shut down even if the kubelet signer expires before the planned restart")
	cordon := flag.Bool("cordon", false, "mark every node unschedulable before the shutdown")
	drainWorkers := flag.Bool("drain", false, "cordon every node and evict the workers' pods before the shutdown")
	flag.Parse()

	ctx, stop := cli.Context()
	defer stop()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "shutdown:", err); return 1 }

	api, err := kubeFlags.Clients()
	if err != nil {
		return fail(err)
	}
	kube := api.Kube

	var (
		mu    sync.Mutex
		conns []*host.SSH
	)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	hosts := func(node string) (host.Host, error) {
		dial, err := ssh.Dialer(nil) // known_hosts is read when a host is needed: a dry run needs none
		if err != nil {
			return nil, err
		}
		addr := node
		if *byIP {
			if addr, err = internalIP(ctx, kube, node); err != nil {
				return nil, err
			}
		}
		h, err := dial(ctx, node, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, h)
		mu.Unlock()
		return h, nil
	}

	res := &lifecycle.ShutdownResult{}
	opts := lifecycle.ShutdownOptions{
		BackupDir: *backupDir, MaxBackupAge: *maxAge, Override: *override,
		MaxParallel: *parallel, Delay: *delay, Result: res,
		PlannedDuration: *planned, IgnoreSignerExpiry: *ignoreSigner, Cordon: *cordon, DrainWorkers: *drainWorkers,
	}
	if *delay == 0 {
		opts.Delay = -1 // at once
	}
	p, err := lifecycle.ShutdownPlan(lifecycle.Deps{Kube: kube, Hosts: hosts}, opts)
	if err == nil {
		err = p.Run(ctx, plan.RunOptions{DryRun: *dryRun, Report: cli.Report(os.Stdout)})
	}
	if res.Backup != nil {
		fmt.Printf("backup %s (%s, revision %d) verified\n", res.Backup.Timestamp, res.Backup.Dir, res.Backup.Revision)
	}
	if res.Override != "" {
		fmt.Printf("WARNING: no backup check, overridden: %s\n", res.Override)
	}
	if !res.SignerNotAfter.IsZero() {
		fmt.Printf("kubelet signer expires %s: restart the cluster before then\n", res.SignerNotAfter.UTC().Format(time.RFC3339))
	}
	switch {
	case errors.Is(err, lifecycle.ErrNoRecentBackup), errors.Is(err, lifecycle.ErrSignerExpiresBeforeRestart):
		fmt.Fprintln(os.Stderr, "shutdown: refused:", err)
		return 2
	case errors.Is(err, lifecycle.ErrShutdownIncomplete):
		fmt.Fprintln(os.Stderr, "shutdown:", err)
		return 3
	case err != nil:
		return fail(err)
	}
	if len(res.UnschedulableMasters) > 0 {
		fmt.Printf("unschedulable masters: %v\n", res.UnschedulableMasters)
	}
	if c := res.Cordoned(); len(c) > 0 {
		fmt.Printf("cordoned: after the restart run: restart -uncordon %s\n", strings.Join(c, ","))
	}
	fmt.Println("NOTE:", res.Reminder)
	if *dryRun {
		fmt.Println("dry run: no host was touched")
	} else {
		fmt.Println("shut off cluster dependencies (storage, LDAP) that are no longer needed (runbook 3.2 step 2)")
	}
	return 0
}

func internalIP(ctx context.Context, kube kubernetes.Interface, node string) (string, error) {
	n, err := kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address, nil
		}
	}
	return "", fmt.Errorf("node %s has no InternalIP", node)
}
