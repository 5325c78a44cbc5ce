package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lifeboat-dev/lifeboat/internal/names"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/internal/controlplane"
	"github.com/lifeboat-dev/lifeboat/internal/safego"
	"github.com/lifeboat-dev/lifeboat/lifecycle"
	"github.com/lifeboat-dev/lifeboat/member"
	"github.com/lifeboat-dev/lifeboat/plan"
)

const etcdNamespace = names.EtcdNamespace

// waitSingleMember is step 9: etcd runs on the recovery host, the API
// answers, and the etcd pod of the recovery host is Running.
func (r *runner) waitSingleMember(ctx context.Context, progress func(string)) error {
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	var minRV int64
	if d.Restore != nil && d.Restore.RevisionBump > 0 {
		minRV = d.Restore.NewRevision
	}
	return r.waitMemberServing(ctx, minRV, progress)
}

// waitMemberServing waits, within APITimeout, until etcd runs on the
// recovery host, the API serves at least revision minRV (0: any), and the
// host's etcd pod is Running, three answers in a row.
func (r *runner) waitMemberServing(ctx context.Context, minRV int64, progress func(string)) error {
	h := r.deps.Recovery
	last := ""
	ok := 0
	err := r.poll(ctx, r.opts.APITimeout, func(ctx context.Context) (bool, error) {
		state := r.singleMemberState(ctx, minRV)
		if state != last && state != "" {
			progress(state)
		}
		last = state
		// The API server of the old cluster may still answer for a moment
		// before it is restarted: ask for a few good answers in a row.
		if state != "" {
			ok = 0
			return false, nil
		}
		ok++
		return ok >= 3, nil
	})
	if err != nil {
		return fmt.Errorf("single-member control plane on %s not up (%s): %w", h.Name(), last, err)
	}
	return nil
}

// serverVersion is Discovery().ServerVersion() bound to ctx: GET /version
// through the discovery REST client, so a server that never answers holds
// it no longer than ctx. A client without a REST client (the fakes) is
// asked through ServerVersion on a goroutine of its own, abandoned when
// ctx ends; its panic there is returned as a *lifeboat.PanicError.
func serverVersion(ctx context.Context, kube kubernetes.Interface) (*version.Info, error) {
	d := kube.Discovery()
	if rc := d.RESTClient(); rc != nil && !reflect.ValueOf(rc).IsNil() {
		body, err := rc.Get().AbsPath("/version").Do(ctx).Raw()
		if err != nil {
			return nil, err
		}
		var info version.Info
		if err := json.Unmarshal(body, &info); err != nil {
			return nil, fmt.Errorf("decoding /version: %w", err)
		}
		return &info, nil
	}
	type answer struct {
		info *version.Info
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		// d is the caller's: its panic is the answer's error.
		info, err := safego.CallValue("restore.Deps.Kube Discovery().ServerVersion", func() (*version.Info, error) { return d.ServerVersion() })
		ch <- answer{info, err}
	}()
	select {
	case a := <-ch:
		return a.info, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// singleMemberState says what is still missing ("" when nothing).
func (r *runner) singleMemberState(ctx context.Context, minRV int64) string {
	h := r.deps.Recovery
	running, err := runningContainers(ctx, h, []string{"etcd"})
	if err != nil {
		return err.Error()
	}
	etcdUp := false
	for _, c := range running {
		if c == "etcd" {
			etcdUp = true
		}
	}
	if !etcdUp {
		return "waiting for the etcd container on " + h.Name()
	}
	if _, err := serverVersion(ctx, r.deps.Kube); err != nil {
		return "waiting for the API server: " + err.Error()
	}
	// A list's resourceVersion is the etcd revision behind the API: at
	// least the bumped revision once it serves the restored member.
	list, err := r.deps.Kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return "waiting for the API server: " + err.Error()
	}
	if rv, err := strconv.ParseInt(list.ResourceVersion, 10, 64); err == nil && rv < minRV {
		return fmt.Sprintf("waiting for the API server to serve the restored etcd (resourceVersion %d, restored revision %d)", rv, minRV)
	}
	pod, err := r.deps.Kube.CoreV1().Pods(etcdNamespace).Get(ctx, "etcd-"+h.Name(), metav1.GetOptions{})
	if err != nil {
		return "waiting for pod etcd-" + h.Name() + ": " + err.Error()
	}
	if pod.Status.Phase != corev1.PodRunning {
		return fmt.Sprintf("waiting for pod etcd-%s to be Running (it is %s)", h.Name(), pod.Status.Phase)
	}
	return ""
}

// redeploy is a forced redeployment as the restore records it before the
// patch: the reason and the latest revision before it.
type redeploy = lifecycle.RedeployRecord

var _ lifecycle.RedeployStore = (*state)(nil)

// LoadRedeploy implements lifecycle.RedeployStore from StateData.Redeploys.
func (s *state) LoadRedeploy(ctx context.Context, target lifecycle.Operator) (lifecycle.RedeployRecord, bool, error) {
	d, err := s.Get(ctx)
	if err != nil {
		return lifecycle.RedeployRecord{}, false, err
	}
	rec, ok := d.Redeploys[string(target)]
	return rec, ok, nil
}

// SaveRedeploy implements lifecycle.RedeployStore: the record is written
// to the state file before it returns, and StateData.Rollouts gets its
// AfterRevision for the wait.
func (s *state) SaveRedeploy(ctx context.Context, target lifecycle.Operator, rec lifecycle.RedeployRecord) error {
	return s.Update(ctx, func(d *StateData) {
		if rec == (lifecycle.RedeployRecord{}) {
			delete(d.Redeploys, string(target))
			return
		}
		if d.Redeploys == nil {
			d.Redeploys = map[string]redeploy{}
		}
		if d.Rollouts == nil {
			d.Rollouts = map[string]int32{}
		}
		d.Redeploys[string(target)] = rec
		d.Rollouts[string(target)] = rec.AfterRevision
	})
}

// forceRedeploy is steps 10-12's patch. The reason and the revision before
// it are saved in the state before the patch: a run resumed after a crash
// between the patch and the step's record finds the object carrying the
// recorded reason, patches nothing, and waits on the recorded revision.
func (r *runner) forceRedeploy(ctx context.Context, op lifecycle.Operator, progress func(string)) error {
	var rec lifecycle.RedeployRecord
	var patched bool
	last := ""
	// The API may still be settling after the restore: retry.
	err := r.poll(ctx, r.opts.APITimeout, func(ctx context.Context) (bool, error) {
		var err error
		rec, patched, err = lifecycle.ForceRedeployOnce(ctx, r.deps.Operator, op, r.state, lifecycle.ForceRedeployOptions{Logger: r.log, Now: r.opts.Now})
		if err == nil {
			return true, nil
		}
		if ctx.Err() != nil {
			if errors.Is(err, ctx.Err()) {
				return false, err
			}
			return false, fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		if msg := err.Error(); msg != last {
			progress("retrying: " + msg)
			last = msg
		}
		return false, nil
	})
	if err != nil {
		if last != "" {
			return fmt.Errorf("forcing a redeployment of %s: %w (last error: %s)", op, err, last)
		}
		return fmt.Errorf("forcing a redeployment of %s: %w", op, err)
	}
	if !patched {
		progress(fmt.Sprintf("forceRedeploymentReason %q already set by an earlier run (latest revision was %d)", rec.Reason, rec.AfterRevision))
		return nil
	}
	progress(fmt.Sprintf("forceRedeploymentReason %q (latest revision was %d)", rec.Reason, rec.AfterRevision))
	return nil
}

func (r *runner) waitRollout(ctx context.Context, op lifecycle.Operator, progress func(string)) error {
	d, err := r.state.Get(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.RolloutTimeout)
	defer cancel()
	rev, err := lifecycle.WaitAllNodesAtLatestRevision(ctx, r.deps.Operator, op, lifecycle.WaitOptions{
		After:        lifecycle.RedeployRecord{AfterRevision: d.Rollouts[string(op)], Reason: d.Redeploys[string(op)].Reason},
		StallTimeout: r.opts.RolloutStallTimeout, Logger: r.log, // progress: the step's events, through ctx
	})
	if err != nil {
		return err
	}
	progress(fmt.Sprintf("AllNodesAtLatestRevision: revision %d", rev))
	return nil
}

// masterNodes lists the master nodes (either control-plane label,
// controlplane.Nodes); the hosts' names when the API lists none.
func (r *runner) masterNodes(ctx context.Context) ([]string, error) {
	nodes, err := controlplane.Nodes(ctx, r.deps.Kube)
	if err != nil {
		return nil, err
	}
	var nodeNames []string
	for _, n := range nodes {
		nodeNames = append(nodeNames, n.Name)
	}
	if len(nodeNames) == 0 {
		nodeNames = append(nodeNames, r.deps.Recovery.Name())
		for _, h := range r.deps.Others {
			nodeNames = append(nodeNames, h.Name())
		}
	}
	sort.Strings(nodeNames)
	return nodeNames, nil
}

// waitMembers polls membersState until it reports "ok:" or timeout ends,
// reporting each change; it returns the last state seen.
func (r *runner) waitMembers(ctx context.Context, timeout time.Duration, progress func(string)) (string, error) {
	last := ""
	err := r.poll(ctx, timeout, func(ctx context.Context) (bool, error) {
		state, err := r.membersState(ctx)
		if err != nil {
			state = err.Error()
		}
		if state != last {
			progress(state)
			last = state
		}
		return err == nil && strings.HasPrefix(state, "ok:"), nil
	})
	return last, err
}

// verifyMembers is step 13: an etcd pod Running on every master, and the
// etcd operator reporting every member available.
func (r *runner) verifyMembers(ctx context.Context, progress func(string)) error {
	last, err := r.waitMembers(ctx, r.opts.APITimeout, progress)
	if err != nil {
		return fmt.Errorf("not every master joined (%s): %w", last, err)
	}
	return nil
}

func (r *runner) membersState(ctx context.Context) (string, error) {
	masters, err := r.masterNodes(ctx)
	if err != nil {
		return "", err
	}
	var notRunning []string
	for _, n := range masters {
		pod, err := r.deps.Kube.CoreV1().Pods(etcdNamespace).Get(ctx, "etcd-"+n, metav1.GetOptions{})
		if err != nil || pod.Status.Phase != corev1.PodRunning {
			notRunning = append(notRunning, "etcd-"+n)
		}
	}
	if len(notRunning) > 0 {
		return "waiting for " + strings.Join(notRunning, ", ") + " to be Running", nil
	}
	etcd, err := r.deps.Operator.OperatorV1().Etcds().Get(ctx, names.ClusterResource, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	for _, c := range etcd.Status.Conditions {
		if c.Type == names.EtcdMembersAvailable {
			if c.Status != "True" {
				return "waiting for EtcdMembersAvailable: " + c.Message, nil
			}
			// Every master's member must be there and available, not just a
			// quorum: the operator adds the other masters one at a time, as
			// learners it promotes once caught up (the etcd rollout waited
			// for before this step completes only then).
			if a, err := member.ParseMembersAvailable(c.Message); err == nil &&
				(a.Available != len(masters) || a.Total != len(masters) || len(a.Names()) > 0) {
				return fmt.Sprintf("waiting for all %d members to be available: %s", len(masters), c.Message), nil
			}
			return fmt.Sprintf("ok: %d etcd pods Running; %s", len(masters), c.Message), nil
		}
	}
	return fmt.Sprintf("ok: %d etcd pods Running (the operator reports no EtcdMembersAvailable condition)", len(masters)), nil
}

// recreateMachine replaces the Machine of a lost master (5.2); the new
// master joins etcd at the forced etcd rollout.
func (r *runner) recreateMachine(ctx context.Context, node string, progress func(string)) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.RolloutTimeout)
	defer cancel()
	// RecreateMachine resumes where it stopped: retry it while the API
	// settles after the restore.
	var res *member.RecreateResult
	var lastErr error
	err := wait.PollUntilContextCancel(ctx, r.opts.Interval, true, func(ctx context.Context) (bool, error) {
		var err error
		res, err = member.RecreateMachine(ctx, r.deps.Machine, node, member.RecreateOptions{
			Interval: r.opts.Interval, Logger: r.log, Now: r.opts.Now, // it reports through plan.ReportProgress
		})
		var nm *member.NoMachineError
		if errors.As(err, &nm) {
			return false, err
		}
		if err != nil {
			if lastErr == nil || lastErr.Error() != err.Error() {
				progress("retrying: " + err.Error())
			}
			lastErr = err
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		if lastErr != nil && !errors.As(err, new(*member.NoMachineError)) {
			return fmt.Errorf("%w (last error: %v)", err, lastErr)
		}
		return err
	}
	newName := ""
	if res.New != nil {
		newName = res.New.Name
	}
	progress(fmt.Sprintf("machine %s replaced by %s (node %s)", res.OldName, newName, res.NewNode))
	return nil
}

// approveCSRs hands over to certs.ApproveNodeBootstrapperCSRs (5.4).
func (r *runner) approveCSRs(ctx context.Context, progress func(string)) error {
	return r.approve(ctx, false, progress)
}

func (r *runner) approve(ctx context.Context, dryRun bool, progress func(string)) error {
	decisions, err := certs.ApproveNodeBootstrapperCSRs(ctx, r.deps.Kube, r.deps.Machine, certs.ApproveOptions{DryRun: dryRun, Logger: r.log})
	if err != nil {
		return err
	}
	if len(decisions) == 0 {
		return plan.Skip("no pending node-bootstrapper CSRs")
	}
	for _, d := range decisions {
		progress(d.String())
	}
	return nil
}
