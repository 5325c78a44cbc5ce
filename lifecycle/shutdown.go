package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/backup"
	"github.com/lifeboat-dev/lifeboat/host"
	"github.com/lifeboat-dev/lifeboat/plan"
)

// MasterLabel marks master nodes (OpenShift 4.5). Nodes labelled
// ControlPlaneLabel (later releases add it) count as masters too.
const (
	MasterLabel       = "node-role.kubernetes.io/master"
	ControlPlaneLabel = "node-role.kubernetes.io/control-plane"
)

// SchedulableReminder is the runbook's note on drained masters (chapter 3),
// carried in ShutdownResult.Reminder.
const SchedulableReminder = "masters drained of custom workloads before the shutdown must be marked schedulable again " +
	"(oc adm uncordon <node>, or Restart with UncordonMasters) before the cluster is functional after the restart"

// ErrNoRecentBackup is returned (wrapped) by Shutdown and ShutdownPlan when
// the caller shows neither a recent verified etcd backup nor an override:
// runbook chapter 3 requires a backup before the shutdown.
var ErrNoRecentBackup = errors.New("no recent verified etcd backup")

// ErrShutdownIncomplete is returned (wrapped) by Shutdown when some nodes
// could not be told to shut down; ShutdownResult.Nodes says which.
var ErrShutdownIncomplete = errors.New("not every node was shut down")

// HostFunc returns the host of a node, for example an SSH connection to it.
type HostFunc func(node string) (host.Host, error)

// ShutdownOptions configures Shutdown. Either BackupDir or Override is
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
	// DryRun checks the backup and the signer and lists the nodes it would
	// cordon, drain and shut down, without touching any node or host.
	DryRun bool
	// Report, when set, receives each node's result as it is known.
	Report func(NodeShutdown)
	// Logger receives progress; nil discards.
	Logger *slog.Logger
	// Now is the clock for the backup's age; time.Now when nil.
	Now func() time.Time
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

// ShutdownResult reports a Shutdown.
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

// Shutdown performs runbook chapter 3, with what "Shutting down the
// cluster gracefully" added in later releases:
//
//  1. a recent verified backup (or an explicit override), else
//     ErrNoRecentBackup;
//  2. the kube-apiserver-to-kubelet signer's expiry, read and reported;
//     with opts.PlannedDuration, a restart planned after it is refused
//     (*SignerExpiryError) unless opts.IgnoreSignerExpiry;
//  3. optionally (opts.Cordon, opts.DrainWorkers) every node cordoned and
//     every worker drained; a failed cordon uncordons what this call
//     cordoned and returns before any host is told to shut down;
//  4. each host told to shut down after opts.Delay ("shutdown -h 1"), at
//     most opts.MaxParallel at once, workers first.
//
// Steps 1 and 2 and the node listing run before anything is touched. It
// returns once every host accepted or refused; hosts power off after the
// delay. The result is returned even with an error; a node that failed
// makes the error wrap ErrShutdownIncomplete.
//
// Shutting a node down twice is harmless (the second schedule replaces the
// first). The caller shuts off the cluster's dependencies (step 2) itself.
func Shutdown(ctx context.Context, kube kubernetes.Interface, hosts HostFunc, opts ShutdownOptions) (*ShutdownResult, error) {
	opts = opts.withDefaults()
	res := &ShutdownResult{Override: opts.Override, DryRun: opts.DryRun, Delay: opts.Delay, Reminder: SchedulableReminder}
	if err := checkBackup(ctx, opts, res); err != nil {
		return res, err
	}
	if err := checkSigner(ctx, kube, opts, res); err != nil {
		return res, err
	}
	nodes, err := listNodes(ctx, kube, res)
	if err != nil {
		return res, err
	}
	res.Nodes = make([]NodeShutdown, len(nodes))
	for i, n := range nodes {
		res.Nodes[i] = NodeShutdown{Node: n.Name, Master: isMaster(&n)}
	}
	if err := cordonAll(ctx, kube, nodes, opts, res); err != nil {
		return res, err
	}
	drainWorkers(ctx, kube, opts, res)

	sem := make(chan struct{}, opts.MaxParallel)
	var wg sync.WaitGroup
	var reportMu sync.Mutex
	for i := range res.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				res.Nodes[i].Status, res.Nodes[i].Err = ShutdownFailed, ctx.Err()
				return
			}
			r := &res.Nodes[i]
			if opts.DryRun {
				r.Status = ShutdownWouldSchedule
			} else if err := shutdownNode(ctx, hosts, r.Node, opts.Delay); err != nil {
				r.Status, r.Err = ShutdownFailed, err
			} else {
				r.Status = ShutdownScheduled
			}
			opts.Logger.Info("shutdown", "node", r.Node, "master", r.Master, "status", r.Status, "err", r.Err)
			if opts.Report != nil {
				reportMu.Lock()
				opts.Report(*r)
				reportMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed := res.Failed(); len(failed) > 0 {
		return res, fmt.Errorf("shutting down the cluster: %w: %s", ErrShutdownIncomplete, strings.Join(failed, ", "))
	}
	return res, nil
}

// ShutdownPlan is Shutdown as a plan: steps checking the backup and the
// kubelet signer, a "cordon/<node>" step per schedulable node (opts.Cordon)
// and a "drain/<worker>" step per worker (opts.DrainWorkers), then one
// step per node ("shutdown/<node>", workers first), run one after another
// (each returns at once: the host powers off after opts.Delay). The nodes
// are listed when the plan is built; Describe() is the dry run.
// opts.MaxParallel and opts.DryRun are not used.
func ShutdownPlan(ctx context.Context, kube kubernetes.Interface, hosts HostFunc, opts ShutdownOptions) (*plan.Plan, error) {
	opts = opts.withDefaults()
	res := &ShutdownResult{}
	nodes, err := listNodes(ctx, kube, res)
	if err != nil {
		return nil, err
	}
	p := &plan.Plan{Name: "shutdown"}
	desc := fmt.Sprintf("verify the etcd backup in %s (at most %s old)", opts.BackupDir, opts.MaxBackupAge)
	if opts.Override != "" {
		desc = "no backup check: overridden (" + opts.Override + ")"
	}
	p.Steps = append(p.Steps, plan.Step{
		ID:          "check-backup",
		Description: desc,
		Run: func(ctx context.Context, progress func(string)) error {
			return checkBackup(ctx, opts, &ShutdownResult{})
		},
	})
	signerDesc := "read the kube-apiserver-to-kubelet signer's expiry"
	if opts.PlannedDuration > 0 {
		signerDesc = fmt.Sprintf("check that the kube-apiserver-to-kubelet signer outlasts a %s shutdown", opts.PlannedDuration)
	}
	p.Steps = append(p.Steps, plan.Step{
		ID:          "check-signer",
		Description: signerDesc,
		Run: func(ctx context.Context, progress func(string)) error {
			return checkSigner(ctx, kube, opts, &ShutdownResult{})
		},
	})
	for _, n := range nodes {
		if !opts.Cordon || n.Spec.Unschedulable {
			continue
		}
		name := n.Name
		p.Steps = append(p.Steps, plan.Step{
			ID:          "cordon/" + name,
			Description: "mark " + name + " unschedulable (oc adm cordon)",
			Run: func(ctx context.Context, progress func(string)) error {
				_, err := setUnschedulable(ctx, kube, name, true)
				return err
			},
		})
	}
	for _, n := range nodes {
		if !opts.DrainWorkers || isMaster(&n) {
			continue
		}
		name := n.Name
		p.Steps = append(p.Steps, plan.Step{
			ID:          "drain/" + name,
			Description: fmt.Sprintf("evict the pods of worker %s (oc adm drain --timeout=%s)", name, opts.DrainTimeout),
			Run: func(ctx context.Context, progress func(string)) error {
				n, err := drainNode(ctx, kube, name, opts.DrainTimeout, opts.Logger)
				if err != nil {
					return plan.Skip(fmt.Sprintf("drain did not finish (%v); the node is shut down anyway", err))
				}
				progress(fmt.Sprintf("%d pods evicted", n))
				return nil
			},
		})
	}
	for _, n := range nodes {
		name, role := n.Name, "worker"
		if isMaster(&n) {
			role = "master"
		}
		p.Steps = append(p.Steps, plan.Step{
			ID:          "shutdown/" + name,
			Description: fmt.Sprintf("shut down %s %s (shutdown -h %s)", role, name, minutes(opts.Delay)),
			Run: func(ctx context.Context, progress func(string)) error {
				return shutdownNode(ctx, hosts, name, opts.Delay)
			},
		})
	}
	if len(res.UnschedulableMasters) > 0 {
		p.Steps = append(p.Steps, plan.Step{
			ID:          "reminder/schedulable-masters",
			Description: "after the restart, mark " + strings.Join(res.UnschedulableMasters, ", ") + " schedulable again",
			Run: func(ctx context.Context, progress func(string)) error {
				return plan.Skip(SchedulableReminder)
			},
		})
	}
	return p, nil
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

func isMaster(n *corev1.Node) bool {
	_, master := n.Labels[MasterLabel]
	_, controlPlane := n.Labels[ControlPlaneLabel]
	return master || controlPlane
}

// checkBackup enforces runbook 3.1: a verified backup younger than
// MaxBackupAge, or an override.
func checkBackup(ctx context.Context, opts ShutdownOptions, res *ShutdownResult) error {
	if opts.Override != "" {
		opts.Logger.Warn("shutting down without a verified etcd backup", "override", opts.Override)
		return nil
	}
	if opts.BackupDir == "" {
		return fmt.Errorf("%w: no backup directory given (take one with backup.Take, or give an override reason)", ErrNoRecentBackup)
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
