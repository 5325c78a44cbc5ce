// Command backup takes an etcd backup of an OpenShift cluster: runbook
// chapter 1, what "cluster-backup.sh <dir>" does on a master, with its
// checks, a manifest and a final verification.
//
// Run it on a master (oc debug node/<master>, chroot /host) or anywhere
// that reaches the cluster's API and etcd and sees the master's file
// system under -host-root:
//
//	backup -kubeconfig ~/.kube/config \
//	    -endpoints https://10.0.0.3:2379 -cacert ca.crt -cert client.crt -key client.key \
//	    /home/core/assets/backup
//
// Without -endpoints the ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT and
// ETCDCTL_KEY variables are used, as etcdctl does in the etcd pod. Without
// -kubeconfig, $KUBECONFIG or the in-cluster configuration is used.
//
// With -metrics-textfile (a *.prom file in node-exporter's textfile
// directory) or -pushgateway (a Pushgateway URL) the run reports its
// outcome as the backup freshness metrics of package backup/freshness;
// examples/cronjob/prometheusrule.yaml alerts on them.
//
// With -destination the backup streams straight from etcd to object
// storage (offsite.Stream): zstd, age encryption to -recipient /
// -recipients-file, a multipart upload and a manifest written last,
// nothing written to the master's disk unless a <backup-dir> is given
// too (then the same bytes also land there, in the cluster-backup.sh
// layout):
//
//	AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... backup \
//	    -destination 's3://etcd-backups?region=eu-west-1' -prefix prod \
//	    -recipients-file recipients.txt
//
// Progress: a live bar with bytes, rate and ETA on a terminal, plain
// lines every -progress-interval otherwise (-progress=plain forces them).
//
// Exit codes: 0 backup taken and verified, 1 failed, 2 bad usage,
// 3 a pre-check failed (the message names the fix).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	configclient "github.com/openshift/client-go/config/clientset/versioned"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/backup/offsite"
	"github.com/lifeboat-dev/lifeboat/examples/internal/cli"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitPrecheck = 3
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		member     = fs.String("member", "", "client URL of the member to snapshot; empty means the first healthy follower")
		hostRoot   = fs.String("host-root", "/", "where the master's file system is mounted (\"/host\" in an oc debug pod without chroot)")
		node       = fs.String("node", "", "node name of the master (for messages); empty means the host name")
		minAge     = fs.Duration("min-cluster-age", backup.DefaultMinClusterAge, "refuse to back up a cluster younger than this (its first certificate rotation); negative disables the check")
		force      = fs.Bool("force", false, "skip the ClusterOperator check and mark the files __POSSIBLY_DIRTY__ (cluster-backup.sh --force)")
		verbose    = fs.Bool("v", false, "log debug records")
		progress   = fs.String("progress", "auto", "progress display: auto (a bar on a terminal, plain lines otherwise), bar, plain")
		progEvery  = fs.Duration("progress-interval", cli.DefaultProgressInterval, "time between plain progress lines")
		off        offsiteFlags
		kube       cli.KubeFlags
		etcdFlags  cli.EtcdFlags
		metricFlag metricsFlags
	)
	kube.Register(fs)
	etcdFlags.Register(fs, "")
	off.register(fs)
	metricFlag.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: backup [flags] <backup-dir>\n       backup [flags] -destination URL -recipient KEY [<backup-dir>]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 1 || (fs.NArg() == 0 && !off.set()) {
		fs.Usage()
		return exitUsage
	}
	dir := fs.Arg(0)
	if fi, err := os.Stat(dir); dir != "" && err == nil && !fi.IsDir() {
		fmt.Fprintf(stderr, "backup: %s is a file, not a directory\n", dir)
		return exitUsage
	}
	dest, resDest, err := off.validated()
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return exitUsage
	}
	prog, err := newProgress(stdout, *progress, *progEvery)
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return exitUsage
	}
	metrics, err := metricFlag.build(fs, off.set())
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return exitUsage
	}
	log := cli.Logger(stderr, *verbose, slog.LevelInfo)
	ctx, stop := cli.Context()
	defer stop()

	// From here on the run is a backup attempt: report how it ended.
	var taken *backup.Backup
	var stored int64
	if metrics != nil {
		defer func() {
			var failed error
			if code != exitOK {
				failed = fmt.Errorf("exit code %d", code)
			}
			metrics.report(ctx, taken, stored, failed, stderr)
		}()
	}

	etcd, err := etcdFlags.Client(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "backup: connecting to etcd: %v\n", err)
		return exitFailed
	}
	defer etcd.Close()

	var cfg configclient.Interface
	api, err := kube.Clients()
	if err == nil {
		cfg = api.Config
	}
	if err != nil && !*force {
		fmt.Fprintf(stderr, "backup: Kubernetes API configuration: %v (use -force to back up without the API)\n", err)
		return exitUsage
	}

	name := *node
	if name == "" {
		name, _ = os.Hostname()
	}
	h := host.NewLocal(name, *hostRoot, host.LocalOptions{})
	if off.set() {
		res, code := streamBackup(ctx, etcd, offsite.StreamOptions{
			Host:          h,
			Config:        cfg,
			Force:         *force,
			Endpoint:      *member,
			MinClusterAge: *minAge,
			Destination:   dest,
			Resources:     resDest,
			ZstdLevel:     off.zstdLevel,
			ReadBack:      off.readBack,
			PartSize:      off.partSizeMiB << 20,
			Concurrency:   off.uploadConcurrency,
			LocalDir:      dir,
			Logger:        log,
		}, prog, stdout, stderr)
		if res != nil {
			taken = res.Backup
			_, stored = res.Manifest.Size()
		}
		return code
	}
	b := new(backup.Backup)
	take, err := backup.TakePlan(backup.TakeDeps{Etcd: etcd, Host: h, Config: cfg}, backup.TakeOptions{
		Dir:           dir,
		Force:         *force,
		MinClusterAge: *minAge,
		Endpoint:      *member,
		Logger:        log,
		Result:        b,
	})
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return exitUsage
	}
	// The snapshot's bytes draw the progress bar; every other event is a line.
	err = take.Run(ctx, plan.RunOptions{Report: prog.PlanReport(func(e plan.Event) { fmt.Fprintln(stdout, e.String()) })})
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		if pe := (*backup.PrecheckError)(nil); errors.As(err, &pe) {
			return exitPrecheck
		}
		return exitFailed
	}
	taken = b
	return reportLocal(ctx, b, dir, log, stdout, stderr)
}
