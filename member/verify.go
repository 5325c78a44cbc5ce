package member

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/internal/controlplane"
	"github.com/lifeboat-dev/lifeboat/internal/opterr"
)

// VerifyOptions configures Verify. The zero value expects three members.
type VerifyOptions struct {
	// Expected is the number of members there must be; 3 when zero.
	// Negative Expected or HealthTimeout is invalid.
	Expected int
	// Gone names a member (the replaced one) that must not be listed.
	Gone string
	// HealthTimeout bounds each member's health check; 5 s when zero.
	HealthTimeout time.Duration
}

// Verification is the state the runbook's verification steps check.
type Verification struct {
	Members []MemberHealth
	// Pods maps each master node to the status of its etcd pod.
	Pods map[string]string
	// Problems is empty when everything checks out.
	Problems []string
}

// OK reports whether no problem was found.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Verify checks the end state of chapter 2: exactly the expected members,
// all started, healthy and voting ("etcdctl member list -w table" and
// "etcdctl endpoint health --cluster"; a learner the etcd operator has
// not promoted yet is a problem to wait out, not a finished member), none
// named opts.Gone, and an etcd pod
// Running on every master node ("oc get pods -n openshift-etcd"). It
// returns an error only when it cannot look; what is wrong is listed in
// Verification.Problems.
func Verify(ctx context.Context, deps Deps, opts VerifyOptions) (*Verification, error) {
	if deps.Etcd == nil {
		return nil, opterr.Nil("member.Deps.Etcd")
	}
	if err := cmp.Or(
		opterr.Negative("member.VerifyOptions.Expected", opts.Expected),
		opterr.Negative("member.VerifyOptions.HealthTimeout", opts.HealthTimeout),
	); err != nil {
		return nil, err
	}
	if opts.Expected == 0 {
		opts.Expected = 3
	}
	hc, err := healthCheckerFor("member.Deps.Health", deps.Health, deps.Etcd)
	if err != nil {
		return nil, err
	}
	timeout := opts.HealthTimeout
	if timeout <= 0 {
		timeout = defaultHealthTimeout
	}
	v := &Verification{Pods: map[string]string{}}
	add := func(format string, a ...any) { v.Problems = append(v.Problems, fmt.Sprintf(format, a...)) }

	lctx, cancel := context.WithTimeout(ctx, timeout)
	resp, err := deps.Etcd.MemberList(lctx)
	cancel()
	if err != nil {
		add("listing members: %v", err)
		return v, ctx.Err()
	}
	v.Members = checkMembers(ctx, hc, resp.Members, timeout)
	if len(v.Members) != opts.Expected {
		add("%d etcd members are listed, want exactly %d", len(v.Members), opts.Expected)
	}
	for _, m := range v.Members {
		switch {
		case !m.Started:
			add("member %s (%x) is unstarted", m.DisplayName(), m.ID)
		case !m.Healthy:
			add("%s", m.Health())
		case m.IsLearner:
			add("member %s (%x) is a learner, not yet promoted to a voting member", m.DisplayName(), m.ID)
		}
		if opts.Gone != "" && m.Name == opts.Gone {
			add("member %s is still listed", opts.Gone)
		}
	}

	if deps.Kube != nil {
		nodes, err := controlplane.Nodes(ctx, deps.Kube)
		if err != nil {
			return v, fmt.Errorf("member: %w", err)
		}
		for _, n := range nodes {
			pod, err := deps.Kube.CoreV1().Pods(etcdNamespace).Get(ctx, "etcd-"+n.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				v.Pods[n.Name] = "missing"
				add("master %s has no etcd pod", n.Name)
			case err != nil:
				return v, fmt.Errorf("member: reading pod etcd-%s: %w", n.Name, err)
			default:
				status, crashing, _ := podStatus(pod, time.Time{}, 0) // what it shows now
				v.Pods[n.Name] = status
				if crashing || pod.Status.Phase != corev1.PodRunning {
					add("pod %s/etcd-%s is %s, not Running", etcdNamespace, n.Name, status)
				}
			}
		}
		if len(nodes) != opts.Expected {
			add("%d master nodes, want %d", len(nodes), opts.Expected)
		}
	}
	return v, nil
}

// WaitVerified polls Verify every interval until it finds no problem or
// ctx ends; progress receives the problems each time they change.
func WaitVerified(ctx context.Context, deps Deps, opts VerifyOptions, interval time.Duration, progress func(string)) (*Verification, error) {
	if interval <= 0 {
		interval = 5 * time.Second
	}
	var last *Verification
	lastMsg := ""
	err := wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		v, err := Verify(ctx, deps, opts)
		if err != nil {
			return false, err
		}
		last = v
		if msg := strings.Join(v.Problems, "; "); msg != lastMsg && msg != "" {
			lastMsg = msg
			if progress != nil {
				progress("waiting: " + msg)
			}
		}
		return v.OK(), nil
	})
	if err != nil {
		problems := "nothing checked"
		if last != nil {
			problems = strings.Join(last.Problems, "; ")
		}
		return last, fmt.Errorf("member: verification: %w (%s)", err, problems)
	}
	return last, nil
}

// sortedNodes lists the node names of a Verification's pods.
func (v *Verification) sortedNodes() []string {
	var ns []string
	for n := range v.Pods {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// Summary is one line: members and pods.
func (v *Verification) Summary() string {
	var names []string
	for _, m := range v.Members {
		names = append(names, m.DisplayName())
	}
	var pods []string
	for _, n := range v.sortedNodes() {
		pods = append(pods, fmt.Sprintf("etcd-%s %s", n, v.Pods[n]))
	}
	return fmt.Sprintf("%d members (%s), all started, healthy and voting; pods: %s", len(v.Members), strings.Join(names, ", "), strings.Join(pods, ", "))
}
