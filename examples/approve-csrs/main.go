// Command approve-csrs reviews the pending certificate signing requests and
// approves the valid ones: runbook 5.4 ("approve each valid node-bootstrapper
// CSR") and chapter 4 steps 4 and 6. Every pending CSR gets one line saying
// what was done and why.
//
//	approve-csrs [-kubeconfig FILE] [-kind bootstrapper|serving|all] [-dry-run] [-deny]
//
// Exit codes: 0 every reviewed CSR of the chosen kind was approved (or none
// was pending); 2 some were left pending or denied (read the reasons);
// 1 an error (API, flags).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/examples/internal/cli"
)

func main() { os.Exit(run()) }

func run() int {
	var kubeFlags cli.KubeFlags
	kubeFlags.Register(flag.CommandLine)
	kind := flag.String("kind", "bootstrapper", "which CSRs to approve: bootstrapper (5.4), serving, or all (chapter 4)")
	dryRun := flag.Bool("dry-run", false, "decide and print, approve nothing")
	deny := flag.Bool("deny", false, "deny the CSRs of the chosen kind that fail validation")
	noMachineAPI := flag.Bool("no-machine-api", false, "cluster without Machine API: check serving CSRs against Node addresses")
	names := flag.String("names", "", "comma-separated CSR names to limit the review to")
	verbose := flag.Bool("v", false, "log each decision as structured records on stderr")
	flag.Parse()

	ctx, stop := cli.Context()
	defer stop()

	cfg, err := cli.RestConfig(kubeFlags.Kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "approve-csrs:", err)
		return 1
	}
	cfg.QPS, cfg.Burst = 50, 100 // one approval write per CSR
	api, err := cli.NewClients(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "approve-csrs:", err)
		return 1
	}
	kube, machines := api.Kube, api.Machine
	opts := certs.ApproveOptions{DryRun: *dryRun, Deny: *deny, UseNodeAddresses: *noMachineAPI}
	if *noMachineAPI {
		// The Infrastructure and Network config name what no node may claim.
		machines, opts.Config = nil, api.Config
	}
	if *names != "" {
		opts.Names = strings.Split(*names, ",")
	}
	if *verbose {
		opts.Logger = cli.Logger(os.Stderr, false, slog.LevelInfo)
	}

	approve := map[string]func(context.Context, kubernetes.Interface, machineclient.Interface, certs.ApproveOptions) ([]certs.Decision, error){
		"bootstrapper": certs.ApproveNodeBootstrapperCSRs,
		"serving":      certs.ApproveKubeletServingCSRs,
		"all":          certs.ApprovePendingCSRs,
	}[*kind]
	if approve == nil {
		fmt.Fprintf(os.Stderr, "approve-csrs: -kind %q: want bootstrapper, serving or all\n", *kind)
		return 1
	}
	decisions, err := approve(ctx, kube, machines, opts)
	attention := 0
	for _, d := range decisions {
		fmt.Println(d)
		if d.Outcome != certs.Approved && !d.OutOfScope {
			attention++
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "approve-csrs:", err)
		return 1
	}
	if len(decisions) == 0 {
		fmt.Println("no pending CSR")
	}
	if attention > 0 {
		fmt.Fprintf(os.Stderr, "approve-csrs: %d CSR(s) not approved, see the reasons above\n", attention)
		return 2
	}
	return 0
}
