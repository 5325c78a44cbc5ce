// Command restore restores an OpenShift cluster to a previous state from an
// etcd backup: runbook section 5.3 (and 5.2, lost masters, by leaving them
// out), with the node-bootstrapper CSR approval of 5.4 at the end.
//
//	restore -backup ./backup -recovery 10.0.0.3 -masters 10.0.0.4,10.0.0.5 \
//	    -ssh-key ~/.ssh/id_ed25519 -known-hosts ~/.ssh/known_hosts \
//	    -kubeconfig ~/.kube/config -cluster-version 4.5.2
//
// Hosts are "addr" or "node=addr" (the node name as the cluster knows it;
// it defaults to the address). Every master is reached over SSH as core
// with sudo. -dry-run checks the backup and prints the plan without
// touching anything. An interrupted restore resumes where it stopped when
// run again with the same flags: the plan's state is kept on the recovery
// host (/var/lib/lifeboat/restore-state.json) with the run's identity (the
// backup's sha256, the hosts, the restore method). Run with another backup
// or other hosts while that state is unfinished, the program refuses and
// names both runs; -abandon-unfinished sets the old state aside (kept) and
// starts afresh. A finished restore's state is renamed with its finish
// time, so the next restore on the host starts fresh.
//
// The restore first decides the cluster's procedure generation from the
// ClusterVersion, else from the recovery host, and prints it: 4.5-4.17 get
// the classic restore, 4.18+ the etcd-only one, which stops and restores
// only etcd (-allow-classic-on-etcd-only runs the classic one there
// instead); -release states the version when the evidence is wrong or
// missing. -dry-run prints that decision and the plan it runs
// (restore.ResolvePlan), then the dry run's events.
//
// Exit codes: 0 restored, 1 failed (run again to resume), 2 bad usage,
// 3 refused before anything was changed (the backup or a pre-flight
// check failed, or any step of a dry run: plan.ErrNothingChanged), 4 another restore's
// unfinished state is on the recovery host (nothing was changed),
// 130 interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/examples/internal/cli"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/member"
	"github.com/lifeboat-dev/lifeboat/plan"
	"github.com/lifeboat-dev/lifeboat/release"
	"github.com/lifeboat-dev/lifeboat/restore"
	"github.com/lifeboat-dev/lifeboat/restore/inprocess"
)

const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitRefused     = 3
	exitOtherRun    = 4
	exitInterrupted = 130
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil)) }

// dialFunc reaches one master; name may be empty (then addr names it).
type dialFunc func(ctx context.Context, name, addr string) (host.Host, error)

// run is the program; dial nil means SSH with the -user, -ssh-key and
// -known-hosts flags (tests pass the hosts of a simulated cluster).
func run(args []string, stdout, stderr io.Writer, dial dialFunc) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		backupDir    = fs.String("backup", "", "local backup directory (snapshot_<ts>.db, static_kuberesources_<ts>.tar.gz); copied to the recovery host")
		backupOnHost = fs.String("backup-on-host", "", "backup directory already on the recovery host (instead of -backup)")
		recovery     = fs.String("recovery", "", "recovery master: addr or node=addr")
		masters      = fs.String("masters", "", "the other surviving masters, comma-separated addr or node=addr (none when they are lost)")
		clusterVer   = fs.String("cluster-version", "", "OpenShift version the cluster runs, checked against the backup's z-stream")
		allowVer     = fs.Bool("allow-version-mismatch", false, "restore a backup from another z-stream")
		releaseVer   = fs.String("release", "", "state the cluster's OpenShift version for the procedure generation instead of detecting it")
		allowClassic = fs.Bool("allow-classic-on-etcd-only", false, "run this (4.5-4.17, classic) restore on a cluster detected as 4.18+ (etcd-only)")
		restorePod   = fs.Bool("restore-pod", false, "restore through a static pod running the cluster's etcd image")
		noCSR        = fs.Bool("skip-csr-approval", false, "leave pending node-bootstrapper CSRs alone")
		dryRun       = fs.Bool("dry-run", false, "check the backup and print the plan; change nothing")
		abandon      = fs.Bool("abandon-unfinished", false, "set aside (keep) the unfinished state of another restore on the recovery host and start afresh")
		interval     = fs.Duration("interval", 0, "how often waits poll (0: the library's 2s)")
		verbose      = fs.Bool("v", false, "log every action")
		kube         cli.KubeFlags
		ssh          cli.SSHFlags
	)
	kube.Register(fs)
	ssh.Register(fs, "user")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 || *recovery == "" || (*backupDir == "") == (*backupOnHost == "") {
		fmt.Fprintln(stderr, "usage: restore (-backup DIR | -backup-on-host DIR) -recovery HOST [-masters HOST,...] -ssh-key KEY -kubeconfig FILE")
		fs.PrintDefaults()
		return exitUsage
	}
	log := cli.Logger(stderr, *verbose, slog.LevelWarn)
	ctx, stop := cli.Context()
	defer stop()

	api, err := kube.Clients()
	if err != nil {
		fmt.Fprintf(stderr, "restore: kubeconfig: %v\n", err)
		return exitUsage
	}
	if dial == nil {
		sshDial, err := ssh.Dialer(log)
		if err != nil {
			fmt.Fprintf(stderr, "restore: %v\n", err)
			return exitUsage
		}
		dial = func(ctx context.Context, name, addr string) (host.Host, error) { return sshDial(ctx, name, addr) }
	}
	connect := func(spec string) (host.Host, error) {
		name, addr, ok := strings.Cut(spec, "=")
		if !ok {
			name, addr = "", spec
		}
		return dial(ctx, name, addr)
	}
	rec, err := connect(*recovery)
	if err != nil {
		fmt.Fprintf(stderr, "restore: recovery host: %v\n", err)
		return exitFailed
	}
	var others []host.Host
	for _, m := range strings.Split(*masters, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		h, err := connect(m)
		if err != nil {
			fmt.Fprintf(stderr, "restore: master %s: %v\n", m, err)
			return exitFailed
		}
		others = append(others, h)
	}

	deps := restore.Deps{
		Recovery: rec, Others: others,
		Kube: api.Kube, Operator: api.Operator, Machine: api.Machine, Config: api.Config,
		InProcess: inprocess.WriteDataDir,
	}
	opts := restore.Options{
		BackupDir: *backupDir, BackupOnHost: *backupOnHost,
		Release: release.Options{Version: *releaseVer}, AllowClassicOnEtcdOnly: *allowClassic,
		ClusterVersion: *clusterVer, AllowVersionMismatch: *allowVer,
		ForceRestorePod: *restorePod, SkipCSRApproval: *noCSR,
		AbandonUnfinished: *abandon,
		Interval:          *interval,
		Logger:            log,
	}
	// Steps that move data (plan.ReportBytes) get a progress bar.
	run := plan.RunOptions{DryRun: *dryRun, Report: cli.Report(stdout)}
	if *dryRun {
		// The plan Run will run, decided from the cluster (reading only).
		p, choice, err := restore.ResolvePlan(ctx, deps, opts)
		if err != nil {
			fmt.Fprintf(stderr, "restore: %v\n", err)
			if errors.Is(err, lifeboat.ErrInvalidOptions) {
				return exitUsage
			}
			return exitFailed
		}
		fmt.Fprintln(stdout, choice)
		fmt.Fprint(stdout, p.Describe())
	}
	state, err := restore.Run(ctx, deps, opts, run)
	switch {
	case err == nil && *dryRun:
		fmt.Fprintln(stdout, "dry run: the backup is usable; nothing was changed")
		return exitOK
	case err == nil && (state == nil || state.Restore == nil || state.Backup == nil):
		fmt.Fprintf(stderr, "restore: the run finished without a restore record\n")
		return exitFailed
	case err == nil:
		// This run's own record: a finished run's state is retired, so
		// it cannot be an earlier run's.
		fmt.Fprintf(stdout, "restored: %s (sha256 %s), revision %d (bumped by %d); moved-aside files are listed in %s on %s\n",
			state.Backup.Snapshot, state.Backup.SHA256, state.Restore.NewRevision, state.Restore.RevisionBump, state.RetiredTo, rec.Name())
		return exitOK
	case errors.Is(err, member.ErrAnotherRunUnfinished):
		fmt.Fprintf(stderr, "restore: nothing changed: %v\n", err)
		return exitOtherRun
	case errors.Is(err, lifeboat.ErrInvalidOptions):
		fmt.Fprintf(stderr, "restore: %v\n", err)
		return exitUsage
	case errors.Is(err, plan.ErrNothingChanged):
		// A check failed before any step changed anything: the backup
		// (verify-backup), a pre-flight check, or any step of a dry run.
		fmt.Fprintf(stderr, "restore: refused, nothing changed: %v\n", err)
		return exitRefused
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "restore: interrupted: %v\nrun again with the same flags to resume\n", err)
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "restore: %v\nfix the cause and run again with the same flags to resume\n", err)
		return exitFailed
	}
}
