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
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
		kubeconfig = fs.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file; empty means the in-cluster configuration")
		endpoints  = fs.String("endpoints", "", "comma-separated etcd client URLs; empty means $ETCDCTL_ENDPOINTS and the other ETCDCTL_* variables")
		cacert     = fs.String("cacert", "", "etcd CA bundle (with -endpoints)")
		cert       = fs.String("cert", "", "etcd client certificate (with -endpoints)")
		key        = fs.String("key", "", "etcd client key (with -endpoints)")
		member     = fs.String("member", "", "client URL of the member to snapshot; empty means the first healthy follower")
		hostRoot   = fs.String("host-root", "/", "where the master's file system is mounted (\"/host\" in an oc debug pod without chroot)")
		node       = fs.String("node", "", "node name of the master (for messages); empty means the host name")
		minAge     = fs.Duration("min-cluster-age", backup.DefaultMinClusterAge, "refuse to back up a cluster younger than this (its first certificate rotation); negative disables the check")
		force      = fs.Bool("force", false, "skip the ClusterOperator check and mark the files __POSSIBLY_DIRTY__ (cluster-backup.sh --force)")
		verbose    = fs.Bool("v", false, "log debug records")
		textfile   = fs.String("metrics-textfile", "", "write backup freshness metrics to this *.prom file for node-exporter's textfile collector")
		pushgw     = fs.String("pushgateway", "", "push backup freshness metrics to this Pushgateway URL (http://host:9091)")
		metricDest = fs.String("metrics-destination", "local", "the destination label of the freshness metrics (\"offsite\" by default with -destination)")
		progress   = fs.String("progress", "auto", "progress display: auto (a bar on a terminal, plain lines otherwise), bar, plain")
		progEvery  = fs.Duration("progress-interval", cli.DefaultProgressInterval, "time between plain progress lines")
		off        offsiteFlags
	)
	off.register(fs)
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
	var dest offsite.Destination
	var resDest *offsite.Destination
	if off.set() {
		var err error
		if dest, resDest, err = off.options(); err == nil {
			uo := offsite.UploadOptions{Destination: dest, Resources: resDest, ZstdLevel: off.zstdLevel, PartSize: off.partSizeMiB << 20}
			err = uo.Validate()
		}
		if err != nil {
			fmt.Fprintf(stderr, "backup: %v\n", err)
			return exitUsage
		}
	}
	prog, err := newProgress(stdout, *progress, *progEvery)
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return exitUsage
	}
	if off.set() && !flagSet(fs, "metrics-destination") {
		*metricDest = "offsite"
	}
	metrics, err := newMetrics(*textfile, *pushgw, *metricDest)
	if err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return exitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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

	etcd, err := cli.EtcdClient(ctx, *endpoints, *cacert, *cert, *key)
	if err != nil {
		fmt.Fprintf(stderr, "backup: connecting to etcd: %v\n", err)
		return exitFailed
	}
	defer etcd.Close()

	var cfg configclient.Interface
	restCfg, err := cli.RestConfig(*kubeconfig)
	if err == nil {
		cfg, err = configclient.NewForConfig(restCfg)
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
	if b.Proxy.Enabled() {
		fmt.Fprintf(stdout, "cluster-wide proxy: export %s\n", strings.Join(b.Proxy.Env(), " "))
	}
	for _, w := range b.Warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}

	fmt.Fprintf(stdout, "verifying %s\n", dir)
	if _, err := backup.Verify(ctx, dir, backup.VerifyOptions{Timestamp: b.Timestamp, Logger: log}); err != nil {
		fmt.Fprintf(stderr, "backup: %v\n", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "snapshot  %s (%d bytes, revision %d, etcd %s, sha256 %s)\n", b.Snapshot.Path, b.Snapshot.Size, b.Revision, b.EtcdVersion, b.Snapshot.SHA256)
	fmt.Fprintf(stdout, "resources %s (sha256 %s)\n", b.Resources.Path, b.Resources.SHA256)
	if b.ClusterVersion != "" {
		fmt.Fprintf(stdout, "cluster version %s: restore this backup on %s only\n", b.ClusterVersion, b.ClusterVersion)
	}
	fmt.Fprintf(stdout, "snapshot db and kube resources are successfully saved to %s\n", dir)
	taken = b
	return exitOK
}

// flagSet reports whether the flag name was given.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
