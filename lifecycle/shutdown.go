package lifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/internal/controlplane"
)

// SchedulableReminder is the runbook's note on drained masters (chapter 3),
// carried in ShutdownResult.Reminder.
const SchedulableReminder = "masters drained of custom workloads before the shutdown must be marked schedulable again " +
	"(oc adm uncordon <node>, or Restart with UncordonMasters) before the cluster is functional after the restart"

// ErrNoRecentBackup is returned (wrapped) by ShutdownPlan's run when
// the caller shows neither a recent verified etcd backup nor an override:
// runbook chapter 3 requires a backup before the shutdown.
var ErrNoRecentBackup = errors.New("no recent verified etcd backup")

// ErrShutdownIncomplete is wrapped by the error of each node that could
// not be told to shut down (the run's *plan.FanoutError holds them all);
// ShutdownResult.Nodes says which.
var ErrShutdownIncomplete = errors.New("not every node was shut down")

// ShutdownOptions configures ShutdownPlan. Either BackupDir or Override is
// required; the other fields have usable zero values.
type ShutdownOptions struct {
	// BackupDir holds the etcd backup taken before the shutdown (runbook
	// 3.1). It is checked with backup.Verify and must be younger than
	// MaxBackupAge.
	BackupDir string
	// VerifyOptions are passed to backup.Verify.
	VerifyOptions backup.VerifyOptions
	// MaxBackupAge is how old the backup may be; 24 hours when zero.
	MaxBackupAge time.Duration
	// Override, when not empty, is the reason to shut down without a
	// verified backup. It is logged and kept in the result.
	Override string
	// MaxParallel bounds how many hosts are told to shut down at once; 10
	// when zero.
	MaxParallel int
	// Delay is passed to host.Host.Shutdown: one minute when zero (the
	// runbook's "shutdown -h 1"), at once when negative.
	Delay time.Duration
	// PlannedDuration is how long the cluster is planned to stay shut
	// down. When set, the kube-apiserver-to-kubelet signer must outlast
	// it (kubeletSignerNotAfter after Now()+PlannedDuration), or Shutdown
	// refuses with a *SignerExpiryError before touching anything; an
	// unreadable expiry is refused too (ErrSignerExpiryUnknown). Zero
	// checks nothing but still reports the expiry in the result.
	PlannedDuration time.Duration
	// IgnoreSignerExpiry shuts down even when the signer expires before
	// the planned restart (the restart then needs the kubelets' CSRs
	// approved by hand), with a warning.
	IgnoreSignerExpiry bool
	// Cordon marks every node unschedulable before the shutdown ("oc adm
	// cordon", current releases' procedure, optional). Nodes that were
	// already unschedulable are left as they were and not reported as
	// cordoned, so RestartOptions.Uncordon (ShutdownResult.Cordoned())
	// never uncordons a node the administrator cordoned.
	Cordon bool
	// DrainWorkers evicts the pods of every worker after cordoning it
	// ("oc adm drain --delete-emptydir-data --ignore-daemonsets --force");
	// it implies Cordon. A drain that does not finish within DrainTimeout
	// is reported on its node (NodeShutdown.DrainErr) and the shutdown
	// goes on, as the documented loop does.
	DrainWorkers bool
	// DrainTimeout bounds each worker's drain; defaultDrainTimeout (15 s)
	// when zero.
	DrainTimeout time.Duration
	// Result, when set, is filled as the plan runs (reset when it runs
	// again): the backup verified, the signer's expiry, each node's
	// outcome, what was cordoned (hand Result.Cordoned() to
	// RestartOptions.Uncordon). A dry run (plan.RunOptions.DryRun) fills
	// it with what would be done.
	Result *ShutdownResult
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// Now is the clock for the backup's age; time.Now when nil.
	Now func() time.Time
}

// Validate reports options ShutdownPlan cannot use, wrapping
// lifeboat.ErrInvalidOptions, or ErrNoRecentBackup when neither BackupDir nor
// Override is given.
func (o ShutdownOptions) Validate() error {
	if o.BackupDir == "" && o.Override == "" {
		return opterr.New("lifecycle.ShutdownOptions.BackupDir", "%w: none given (take a backup with backup.TakePlan, or give an Override reason)", ErrNoRecentBackup)
	}
	return cmp.Or(
		opterr.Negative("lifecycle.ShutdownOptions.MaxBackupAge", o.MaxBackupAge),
		opterr.Negative("lifecycle.ShutdownOptions.MaxParallel", o.MaxParallel),
		opterr.Negative("lifecycle.ShutdownOptions.PlannedDuration", o.PlannedDuration),
		opterr.Negative("lifecycle.ShutdownOptions.DrainTimeout", o.DrainTimeout),
	)
}

func (o ShutdownOptions) withDefaults() ShutdownOptions {
	if o.MaxBackupAge <= 0 {
		o.MaxBackupAge = 24 * time.Hour
	}
	if o.MaxParallel <= 0 {
		o.MaxParallel = 10
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = defaultDrainTimeout
	}
	if o.DrainWorkers {
		o.Cordon = true
	}
	switch {
	case o.Delay == 0:
		o.Delay = time.Minute
	case o.Delay < 0:
		o.Delay = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// NodeShutdownStatus is what happened to one node.
type NodeShutdownStatus string

const (
	// ShutdownScheduled: the host accepted "shutdown -h <delay>".
	ShutdownScheduled NodeShutdownStatus = "ShutdownScheduled"
	// ShutdownWouldSchedule: dry run, nothing was done.
	ShutdownWouldSchedule NodeShutdownStatus = "WouldShutDown"
	// ShutdownFailed: the host could not be reached or refused; Err says why.
	ShutdownFailed NodeShutdownStatus = "Failed"
)

// NodeShutdown is the result for one node.
type NodeShutdown struct {
	Node   string
	Master bool
	Status NodeShutdownStatus
	Err    error
	// Cordoned: this shutdown marked the node unschedulable (in a dry
	// run: would have).
	Cordoned bool
	// Drained: the worker's pods were evicted (Evicted of them; in a dry
	// run: would have been); DrainErr says why a drain did not finish.
	Drained  bool
	Evicted  int
	DrainErr error
}

func (n NodeShutdown) String() string {
	role := "worker"
	if n.Master {
		role = "master"
	}
	s := fmt.Sprintf("%s (%s): %s", n.Node, role, n.Status)
	if n.Err != nil {
		s += ": " + n.Err.Error()
	}
	return s
}

// ShutdownResult reports a run of ShutdownPlan (ShutdownOptions.Result).
type ShutdownResult struct {
	// Backup is the verified backup, nil with Override.
	Backup *backup.Backup
	// BackupTime is when the backup was taken, as far as it is known.
	BackupTime time.Time
	// Override is the reason given to shut down without a backup.
	Override string
	DryRun   bool
	Delay    time.Duration
	// Nodes, workers first then masters, each sorted by name.
	Nodes []NodeShutdown
	// UnschedulableMasters are the masters marked unschedulable (drained)
	// when the shutdown began; they must be made schedulable after the
	// restart.
	UnschedulableMasters []string
	// Reminder is the runbook's note on drained masters (SchedulableReminder).
	Reminder string
	// SignerNotAfter is when the kube-apiserver-to-kubelet signer expires
	// (zero when it could not be read): restart the cluster before it.
	SignerNotAfter time.Time
}

// Cordoned lists the nodes this shutdown marked unschedulable, masters
// first: give it to RestartOptions.Uncordon.
func (r *ShutdownResult) Cordoned() []string {
	var masters, workers []string
	for _, n := range r.Nodes {
		switch {
		case !n.Cordoned:
		case n.Master:
			masters = append(masters, n.Node)
		default:
			workers = append(workers, n.Node)
		}
	}
	return append(masters, workers...)
}

// Failed lists the nodes that were not shut down.
func (r *ShutdownResult) Failed() []string {
	var out []string
	for _, n := range r.Nodes {
		if n.Status == ShutdownFailed {
			out = append(out, n.Node)
		}
	}
	return out
}

func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprint(int(d / time.Minute))
	}
	return d.String()
}

func shutdownNode(ctx context.Context, hosts HostFunc, node string, delay time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("shutting down node %s: %w", node, err)
	}
	h, err := hosts(node)
	if err != nil {
		return fmt.Errorf("host of node %s: %w", node, err)
	}
	if err := h.Shutdown(ctx, delay); err != nil {
		return fmt.Errorf("shutting down node %s: %w", node, err)
	}
	return nil
}

// listNodes lists the nodes, workers first then masters, and records the
// unschedulable masters in res.
func listNodes(ctx context.Context, kube kubernetes.Interface, res *ShutdownResult) ([]corev1.Node, error) {
	list, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	nodes := list.Items
	sort.Slice(nodes, func(i, j int) bool {
		mi, mj := isMaster(&nodes[i]), isMaster(&nodes[j])
		if mi != mj {
			return !mi
		}
		return nodes[i].Name < nodes[j].Name
	})
	for _, n := range nodes {
		if isMaster(&n) && n.Spec.Unschedulable {
			res.UnschedulableMasters = append(res.UnschedulableMasters, n.Name)
		}
	}
	return nodes, nil
}

// isMaster: either control-plane label (controlplane.IsNode), as member
// and restore pick masters.
func isMaster(n *corev1.Node) bool { return controlplane.IsNode(n) }

// checkBackup enforces runbook 3.1: a verified backup younger than
// MaxBackupAge, or an override.
func checkBackup(ctx context.Context, opts ShutdownOptions, res *ShutdownResult) error {
	if opts.Override != "" {
		opts.Logger.Warn("shutting down without a verified etcd backup", "override", opts.Override)
		return nil
	}
	if opts.BackupDir == "" {
		return fmt.Errorf("%w: no backup directory given (take one with backup.TakePlan, or give an override reason)", ErrNoRecentBackup)
	}
	b, err := backup.Verify(ctx, opts.BackupDir, opts.VerifyOptions)
	if err != nil {
		return fmt.Errorf("%w: backup in %s does not verify: %w", ErrNoRecentBackup, opts.BackupDir, err)
	}
	taken, err := backupTime(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoRecentBackup, err)
	}
	res.Backup, res.BackupTime = b, taken
	if age := opts.Now().Sub(taken); age > opts.MaxBackupAge {
		return fmt.Errorf("%w: backup %s in %s was taken %s ago, more than %s", ErrNoRecentBackup,
			b.Timestamp, opts.BackupDir, age.Round(time.Second), opts.MaxBackupAge)
	}
	opts.Logger.Info("etcd backup verified", "dir", opts.BackupDir, "timestamp", b.Timestamp, "revision", b.Revision)
	return nil
}

// backupTime is when the backup was taken: its manifest's creation time,
// else the snapshot file's modification time (the stamp in the file name
// is in the master's local time zone, unknown here).
func backupTime(b *backup.Backup) (time.Time, error) {
	if b.Manifest != nil && !b.Manifest.CreatedAt.IsZero() {
		return b.Manifest.CreatedAt, nil
	}
	fi, err := os.Stat(b.Snapshot.Path)
	if err != nil {
		return time.Time{}, fmt.Errorf("age of backup snapshot: %w", err)
	}
	return fi.ModTime(), nil
}
