// Command demo walks the whole OpenShift "Backup and restore" runbook on a
// simulated control plane (clustertest: real etcd members, a real
// kube-apiserver, simulated kubelets, operators and machine API), chapter by
// chapter, and prints what it verified at each step:
//
//  1. back up etcd;
//  2. a master machine stops and its etcd member is replaced;
//  3. and 4. the cluster shuts down and restarts, its CSRs reviewed;
//  5. an administrator deletes a namespace and two masters are lost; the
//     cluster is restored from the backup and the namespace is back.
//
// It exits 0 when every verification passed, 1 when one failed, 2 when the
// simulated cluster could not be started.
//
//	go run ./examples/demo
//
// The first run builds etcd and kube-apiserver (hack/tools.sh, several
// minutes, once) and says so.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeboat-dev/lifeboat/clustertest"
	"github.com/lifeboat-dev/lifeboat/examples/internal/cli"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

func main() {
	keep := flag.Bool("keep", false, "keep the simulated cluster's directory (logs, hosts) after the demo")
	verbose := flag.Bool("v", false, "print every plan event and the simulator's log records")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.Parse()

	ctx, stop := cli.Context()
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	os.Exit(run(ctx, os.Stdout, *keep, *verbose))
}

// demo carries the simulated cluster and the running score.
type demo struct {
	out     io.Writer
	c       *clustertest.Cluster
	verbose bool
	failed  int
	start   time.Time
	logger  *slog.Logger // the library's records: shown with -v, else discarded
	backups int          // backups taken so far
	backup  string       // the newest verified backup directory
}

func (d *demo) chapter(title string) { fmt.Fprintf(d.out, "\n== %s\n", title) }
func (d *demo) say(format string, a ...any) {
	fmt.Fprintf(d.out, "   "+format+"\n", a...)
}

// verify prints one verified fact, or the failure, and counts failures.
func (d *demo) verify(what string, err error) bool {
	if err != nil {
		d.failed++
		fmt.Fprintf(d.out, "   FAILED   %s: %v\n", what, err)
		return false
	}
	fmt.Fprintf(d.out, "   verified %s\n", what)
	return true
}

// report prints a plan's progress: each step's end, and everything with -v.
func (d *demo) report(e plan.Event) {
	if d.verbose || e.Status == plan.Done || e.Status == plan.Skipped || e.Status == plan.Failed {
		fmt.Fprintf(d.out, "   %s  %s\n", time.Since(d.start).Round(time.Second), e)
	}
}

func (d *demo) hosts(node string) (host.Host, error) {
	if h := d.c.Host(node); h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("no host for node %s", node)
}

func run(ctx context.Context, out io.Writer, keep, verbose bool) int {
	d := &demo{out: out, verbose: verbose, start: time.Now()}
	if _, err := clustertest.FindBinaries(); err != nil {
		fmt.Fprintln(out, "lifeboat demo: building the test binaries first (etcd, kube-apiserver; several minutes, once)")
	}
	bins, err := clustertest.EnsureBinaries(ctx, out)
	if err != nil {
		fmt.Fprintf(out, "lifeboat demo: %v\n", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "lifeboat-demo-")
	if err != nil {
		fmt.Fprintf(out, "lifeboat demo: %v\n", err)
		return 2
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	var logger *slog.Logger // the simulator's records go to its log file only
	d.logger = slog.New(slog.DiscardHandler)
	if verbose {
		logger = slog.New(slog.NewTextHandler(out, nil))
		d.logger = logger
	}
	d.chapter("Starting a simulated OpenShift 4.5.2 control plane (3 masters, 2 workers)")
	c, err := clustertest.New(ctx, clustertest.Options{Dir: filepath.Join(dir, "cluster"), Binaries: &bins, Logger: logger})
	if err != nil {
		fmt.Fprintf(out, "lifeboat demo: starting the simulated cluster: %v\n", err)
		return 2
	}
	defer c.Close()
	d.c = c
	d.say("started in %s: masters %v, workers %v, API %s", time.Since(d.start).Round(100*time.Millisecond), c.Masters(), c.Workers(), c.APIServerURL())
	if keep {
		d.say("cluster directory (hosts, logs, kubeconfig): %s", c.Dir())
	}

	backupDir := filepath.Join(dir, "backups")
	steps := []func(context.Context, string) error{d.chapter1, d.chapter2, d.chapter34, d.chapter5}
	for _, step := range steps {
		if err := step(ctx, backupDir); err != nil {
			d.verify("the chapter ran to its end", err)
			break
		}
	}
	fmt.Fprintf(out, "\n== %d verification(s) failed; total time %s\n", d.failed, time.Since(d.start).Round(time.Second))
	if d.failed > 0 {
		return 1
	}
	return 0
}
