// Command restart brings an OpenShift cluster back after a graceful
// shutdown (runbook chapter 4, steps 3-7), once its dependencies are powered
// on and its machines started: it waits for the masters to be Ready,
// approving the valid pending CSRs meanwhile, then the workers, then every
// ClusterOperator Available and not Degraded.
//
//	restart -kubeconfig FILE [-uncordon-masters] [-csr-dry-run] [-interval 10s]
//	restart -kubeconfig FILE -uncordon master-0,worker-0   (what shutdown -cordon printed)
//	restart -kubeconfig FILE -recovery-masters m0,m1,m2 [-ssh-key FILE]
//
// With -recovery-masters, when the kubeconfig's API endpoint does not
// answer (load balancer or DNS still down), the API is reached through
// the first master whose localhost-recovery.kubeconfig answers, over SSH
// (as "ssh core@<master>" then "oc --kubeconfig .../localhost-recovery.kubeconfig").
//
// Exit codes: 0 the cluster recovered; 3 it did not: restore it to a
// previous state from an etcd backup (runbook 5.3, restore.Plan and
// examples/restore); 1 other errors.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/examples/internal/cli"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/plan"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		kubeFlags cli.KubeFlags
		ssh       cli.SSHFlags // -recovery-masters
	)
	kubeFlags.Register(flag.CommandLine)
	ssh.Register(flag.CommandLine, "")
	interval := flag.Duration("interval", 10*time.Second, "time between checks")
	mastersTimeout := flag.Duration("masters-timeout", 20*time.Minute, "how long masters may take to be Ready")
	workersTimeout := flag.Duration("workers-timeout", 20*time.Minute, "how long workers may take to be Ready")
	operatorsTimeout := flag.Duration("operators-timeout", 30*time.Minute, "how long ClusterOperators may take to settle")
	uncordon := flag.Bool("uncordon-masters", false, "mark masters drained before the shutdown schedulable again")
	skipCSR := flag.Bool("skip-csr-approval", false, "only wait; leave pending CSRs alone")
	csrDryRun := flag.Bool("csr-dry-run", false, "review pending CSRs and print decisions, approve nothing")
	noMachineAPI := flag.Bool("no-machine-api", false, "cluster without Machine API: check serving CSRs against Node addresses")
	uncordonNodes := flag.String("uncordon", "", "comma-separated nodes to mark schedulable once all are Ready (shutdown -cordon prints them)")
	recovery := flag.String("recovery-masters", "", "comma-separated master addresses whose localhost-recovery kubeconfig to use, over SSH, when the API endpoint is down")
	flag.Parse()

	ctx, stop := cli.Context()
	defer stop()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "restart:", err); return 1 }

	cfg, err := cli.RestConfig(kubeFlags.Kubeconfig)
	if err != nil {
		return fail(err)
	}
	if *recovery != "" {
		dial, err := ssh.Dialer(nil)
		if err != nil {
			return fail(err)
		}
		var masters []host.Host
		for _, addr := range strings.Split(*recovery, ",") {
			h, err := dial(ctx, addr, addr)
			if err != nil {
				fmt.Fprintln(os.Stderr, "restart: no SSH to", addr+":", err)
				continue
			}
			defer h.Close()
			masters = append(masters, h)
		}
		var endpoint string
		if cfg, endpoint, err = lifecycle.ReachableConfig(ctx, cfg, masters, lifecycle.ReachableOptions{}); err != nil {
			return fail(err)
		}
		fmt.Println("kube-apiserver reached through", endpoint)
	}
	api, err := cli.NewClients(cfg)
	if err != nil {
		return fail(err)
	}
	machines := api.Machine
	if *noMachineAPI {
		machines = nil
	}

	res := &lifecycle.RestartResult{}
	p, err := lifecycle.RestartPlan(lifecycle.Deps{Kube: api.Kube, Config: api.Config, Machine: machines}, lifecycle.RestartOptions{
		Interval: *interval, MastersTimeout: *mastersTimeout, WorkersTimeout: *workersTimeout, OperatorsTimeout: *operatorsTimeout,
		SkipCSRApproval: *skipCSR, UncordonMasters: *uncordon, Uncordon: splitList(*uncordonNodes),
		CSR: certs.ApproveOptions{DryRun: *csrDryRun, UseNodeAddresses: *noMachineAPI}, Result: res,
	})
	if err == nil {
		err = p.Run(ctx, plan.RunOptions{Report: cli.Report(os.Stdout)})
	}
	{
		for _, o := range res.Operators {
			if !o.OK() {
				fmt.Printf("operator %s Available=%v Degraded=%v %s\n", o.Name, o.Available, o.Degraded, o.Message)
			}
		}
		if len(res.UnschedulableMasters) > 0 {
			fmt.Printf("NOTE: masters %v are unschedulable; %s\n", res.UnschedulableMasters, lifecycle.SchedulableReminder)
		}
	}
	switch {
	case errors.Is(err, lifecycle.ErrClusterDidNotRecover):
		fmt.Fprintln(os.Stderr, "restart:", err)
		return 3
	case err != nil:
		return fail(err)
	}
	fmt.Printf("cluster recovered in %s: %d masters and %d workers Ready, %d ClusterOperators healthy\n",
		res.Elapsed.Round(time.Second), len(res.Masters), len(res.Workers), len(res.Operators))
	return 0
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
