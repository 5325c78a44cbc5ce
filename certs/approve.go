package certs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	configclient "github.com/openshift/client-go/config/clientset/versioned"
	machineclient "github.com/openshift/client-go/machine/clientset/versioned"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/lifeboat-dev/lifeboat/internal/opterr"
	"github.com/lifeboat-dev/lifeboat/internal/safego"
)

// Outcome is what happened to a CSR.
type Outcome string

const (
	// Approved: the CSR passed validation and was approved (or, with
	// DryRun, would have been), or was found approved by someone else.
	Approved Outcome = "Approved"
	// Denied: the CSR failed validation and Deny was asked for.
	Denied Outcome = "Denied"
	// Skipped: the CSR was left pending; Reasons says why.
	Skipped Outcome = "Skipped"
)

// Decision reports what a review did with one CSR.
type Decision struct {
	Name    string
	Node    string // the node the CSR is for, when it names one
	Kind    Kind
	Outcome Outcome
	// Policy that allowed the CSR, when it passed validation.
	Policy Policy
	// Reasons lists every check the CSR failed (empty when it passed), or
	// why it was out of scope.
	Reasons []string
	// Rules lists, once each, the cross-check rules (see Rule) that refused
	// a name or address: a subset of what Reasons says, for callers that
	// branch.
	Rules []Rule
	// DryRun is true when Outcome was decided but not written.
	DryRun bool
	// OutOfScope is true for a CSR this review never approves: another
	// signer, or the other kubelet kind (a serving CSR in
	// ApproveNodeBootstrapperCSRs).
	OutOfScope bool
	// Note adds what happened beyond the outcome ("already approved by
	// someone else").
	Note string
}

func (d Decision) String() string {
	s := fmt.Sprintf("%s %s", d.Name, d.Outcome)
	if d.DryRun {
		s += " (dry run)"
	}
	s += fmt.Sprintf(" kind=%s", d.Kind)
	if d.Node != "" {
		s += " node=" + d.Node
	}
	if d.Policy != "" {
		s += " policy=" + string(d.Policy)
	}
	if d.Note != "" {
		s += ": " + d.Note
	}
	if len(d.Reasons) > 0 {
		s += ": " + strings.Join(d.Reasons, "; ")
	}
	return s
}

// ApproveOptions configures the Approve functions. The zero value approves
// every valid CSR of the function's kind, denies nothing, logs nothing,
// uses time.Now, reads Machines from openshift-machine-api and writes 8
// approvals at a time.
type ApproveOptions struct {
	// DryRun decides but writes nothing.
	DryRun bool
	// Deny denies the pending CSRs of the function's kinds that fail
	// validation (never CSRs of other signers). Off by default: a CSR that
	// fails because a Machine is not provisioned yet may pass later.
	Deny bool
	// Logger receives one line per decision; nil discards.
	Logger *slog.Logger
	// Now is the clock for condition times; time.Now when nil.
	Now func() time.Time
	// MachineNamespace holds the Machines; openshift-machine-api when empty.
	MachineNamespace string
	// UseNodeAddresses, when machines is nil (no Machine API), checks CSRs
	// against the Nodes instead: a serving CSR's names against its Node's
	// own status addresses (PolicyKubeletServingNodeAddresses), and a
	// node-bootstrapper CSR only for a Node that exists and is not Ready
	// (PolicyExpiredClientCertificate; a new node is never approved this
	// way). Node addresses are reported by the kubelet itself, so a
	// serving CSR's names must also pass the cross-checks of Rule.
	UseNodeAddresses bool
	// Config reads the Infrastructure and Network config objects
	// ("cluster") that name the in-cluster identities a serving CSR checked
	// against Node addresses must not claim (see Rule). Without it, with
	// UseNodeAddresses and no Machine API, every serving CSR is refused
	// (RuleClusterIdentitiesUnknown). Not read when machines is given.
	Config configclient.Interface
	// Parallel is how many approvals are written at once; 8 when zero,
	// negative is invalid.
	// The client's own rate limit (rest.Config QPS, 5 by default) also
	// bounds it: raise it to approve hundreds of CSRs quickly.
	Parallel int
	// Names, when not empty, limits the review to these CSRs (as
	// "oc adm certificate approve <name>" does).
	Names []string
}

func (o ApproveOptions) withDefaults() ApproveOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MachineNamespace == "" {
		o.MachineNamespace = defaultMachineNamespace
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	return o
}

// IsPending reports whether nobody decided on the CSR yet: it has no
// Approved, Denied or Failed condition and no certificate. A nil csr is
// not pending.
func IsPending(csr *certv1.CertificateSigningRequest) bool {
	if csr == nil {
		return false
	}
	if len(csr.Status.Certificate) > 0 {
		return false
	}
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certv1.CertificateApproved, certv1.CertificateDenied, certv1.CertificateFailed:
			return false
		}
	}
	return true
}

// IsApproved reports whether the CSR has an Approved condition that is True.
func isApproved(csr *certv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == certv1.CertificateApproved && c.Status != corev1.ConditionFalse {
			return true
		}
	}
	return false
}

// PendingCSRs lists the pending CSRs (see IsPending), sorted by name.
func PendingCSRs(ctx context.Context, kube kubernetes.Interface) ([]certv1.CertificateSigningRequest, error) {
	if kube == nil {
		return nil, opterr.Nil("certs.PendingCSRs kube")
	}
	list, err := kube.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing certificate signing requests: %w", err)
	}
	var pending []certv1.CertificateSigningRequest
	for _, csr := range list.Items {
		if IsPending(&csr) {
			pending = append(pending, csr)
		}
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i].Name < pending[j].Name })
	return pending, nil
}

// loadInventory reads the Machines (when machines is not nil) and Nodes
// that CSRs are checked against.
func loadInventory(ctx context.Context, kube kubernetes.Interface, machines machineclient.Interface, opts ApproveOptions) (*inventory, error) {
	opts = opts.withDefaults()
	inv := &inventory{Nodes: map[string]*corev1.Node{}, UseNodeAddresses: opts.UseNodeAddresses}
	if machines != nil {
		ml, err := machines.MachineV1beta1().Machines(opts.MachineNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing machines in %s: %w", opts.MachineNamespace, err)
		}
		inv.MachineAPI, inv.Machines = true, ml.Items
	}
	if machines == nil && opts.UseNodeAddresses && opts.Config != nil {
		infra, err := opts.Config.ConfigV1().Infrastructures().Get(ctx, "cluster", metav1.GetOptions{})
		switch {
		case err == nil:
			inv.Infrastructure = infra
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading infrastructure/cluster: %w", err)
		}
		network, err := opts.Config.ConfigV1().Networks().Get(ctx, "cluster", metav1.GetOptions{})
		switch {
		case err == nil:
			inv.Network = network
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading network/cluster: %w", err)
		}
	}
	nl, err := kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	for i := range nl.Items {
		inv.Nodes[nl.Items[i].Name] = &nl.Items[i]
	}
	return inv, nil
}

// ApproveNodeBootstrapperCSRs reviews the pending CSRs and approves the
// valid node-bootstrapper client CSRs (runbook 5.4 step 3), under
// PolicyNewNode or PolicyExpiredClientCertificate. It returns a Decision for
// every pending CSR: kubelet serving CSRs are skipped as out of scope, other
// signers as never approved. A CSR that fails validation is not an error.
// A nil kube is refused with a *lifeboat.OptionsError
// (lifeboat.ErrInvalidOptions) before any call. CSRs are reviewed on
// goroutines of their own (ApproveOptions.Parallel): a panic of kube or of
// the Logger's handler there is that CSR's error, a *lifeboat.PanicError
// (lifeboat.ErrPanicked), its Decision left Skipped unless it was made.
func ApproveNodeBootstrapperCSRs(ctx context.Context, kube kubernetes.Interface, machines machineclient.Interface, opts ApproveOptions) ([]Decision, error) {
	return review(ctx, "certs.ApproveNodeBootstrapperCSRs", kube, machines, opts, KindNodeClient)
}

// ApproveKubeletServingCSRs is ApproveNodeBootstrapperCSRs for kubelet
// serving CSRs (PolicyKubeletServing).
func ApproveKubeletServingCSRs(ctx context.Context, kube kubernetes.Interface, machines machineclient.Interface, opts ApproveOptions) ([]Decision, error) {
	return review(ctx, "certs.ApproveKubeletServingCSRs", kube, machines, opts, KindKubeletServing)
}

// ApprovePendingCSRs approves the valid CSRs of both kinds, what runbook
// chapter 4 steps 4 and 6 ask ("approve each valid CSR").
func ApprovePendingCSRs(ctx context.Context, kube kubernetes.Interface, machines machineclient.Interface, opts ApproveOptions) ([]Decision, error) {
	return review(ctx, "certs.ApprovePendingCSRs", kube, machines, opts, KindNodeClient, KindKubeletServing)
}

// review is the Approve functions' body; fn names the one called, for
// the error refusing a nil kube.
func review(ctx context.Context, fn string, kube kubernetes.Interface, machines machineclient.Interface, opts ApproveOptions, kinds ...Kind) ([]Decision, error) {
	if kube == nil {
		return nil, opterr.Nil(fn + " kube")
	}
	if err := opterr.Negative("certs.ApproveOptions.Parallel", opts.Parallel); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("reviewing certificate signing requests: %w", err)
	}
	pending, err := PendingCSRs(ctx, kube)
	if err != nil {
		return nil, err
	}
	if len(opts.Names) > 0 {
		var keep []certv1.CertificateSigningRequest
		for _, csr := range pending {
			for _, n := range opts.Names {
				if csr.Name == n {
					keep = append(keep, csr)
				}
			}
		}
		pending = keep
	}
	if len(pending) == 0 {
		return nil, nil
	}
	inv, err := loadInventory(ctx, kube, machines, opts)
	if err != nil {
		return nil, err
	}
	decisions := make([]Decision, len(pending))
	errs := make([]error, len(pending))
	sem := make(chan struct{}, opts.Parallel)
	var wg sync.WaitGroup
	for i := range pending {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			// kube and the logger's handler are the caller's: a panic is
			// this CSR's error, its decision left at Skipped.
			decisions[i] = Decision{Name: pending[i].Name, Outcome: Skipped}
			errs[i] = safego.Call("reviewing certificate signing request "+pending[i].Name, func() (err error) {
				decisions[i], err = decide(ctx, kube, inv, &pending[i], opts, kinds)
				logDecision(opts.Logger, decisions[i], err)
				return err
			})
		}()
	}
	wg.Wait()
	return decisions, errors.Join(errs...)
}

func logDecision(l *slog.Logger, d Decision, err error) {
	attrs := []any{"csr", d.Name, "kind", d.Kind, "outcome", d.Outcome}
	if d.Node != "" {
		attrs = append(attrs, "node", d.Node)
	}
	if d.Policy != "" {
		attrs = append(attrs, "policy", d.Policy)
	}
	if d.DryRun {
		attrs = append(attrs, "dryRun", true)
	}
	if len(d.Reasons) > 0 {
		attrs = append(attrs, "reasons", strings.Join(d.Reasons, "; "))
	}
	if err != nil {
		l.Error("reviewing CSR failed", append(attrs, "err", err)...)
		return
	}
	l.Info("reviewed CSR", attrs...)
}

// decide validates one CSR and writes the approval (or denial), retrying
// on conflict with a fresh read and a fresh validation.
func decide(ctx context.Context, kube kubernetes.Interface, inv *inventory, csr *certv1.CertificateSigningRequest, opts ApproveOptions, kinds []Kind) (Decision, error) {
	v := validate(csr, inv)
	d := Decision{Name: csr.Name, Node: v.Node, Kind: v.Kind, Policy: v.Policy, Reasons: v.Reasons, Rules: v.Rules, Outcome: Skipped}
	inScope := false
	for _, k := range kinds {
		inScope = inScope || k == v.Kind
	}
	if !inScope || v.Kind == KindOther {
		d.Policy, d.Rules, d.OutOfScope = "", nil, true
		if v.Kind != KindOther {
			d.Reasons = []string{fmt.Sprintf("out of scope: a %s CSR is not reviewed here", v.Kind)}
		}
		return d, nil
	}
	switch {
	case v.Valid():
		d.Outcome = Approved
	case opts.Deny:
		d.Outcome = Denied
	default:
		return d, nil
	}
	if opts.DryRun {
		d.DryRun = true
		return d, nil
	}

	csrs := kube.CertificatesV1().CertificateSigningRequests()
	cur := csr.DeepCopy()
	first := true
	approveOnce := func() error {
		if !first {
			fresh, err := csrs.Get(ctx, csr.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cur = fresh
			if !IsPending(cur) {
				return nil
			}
			v = validate(cur, inv)
			d.Node, d.Policy, d.Reasons, d.Rules = v.Node, v.Policy, v.Reasons, v.Rules
			if !v.Valid() && d.Outcome == Approved {
				// The CSR changed under us and no longer passes.
				d.Outcome = Skipped
				if !opts.Deny {
					return nil
				}
				d.Outcome = Denied
			}
		}
		first = false
		// A cancelled ctx writes no decision, whatever the client does
		// with one.
		if err := ctx.Err(); err != nil {
			return err
		}
		cur.Status.Conditions = append(cur.Status.Conditions, condition(d, opts.Now()))
		_, err := csrs.UpdateApproval(ctx, cur.Name, cur, metav1.UpdateOptions{})
		return err
	}
	// RetryOnConflict returns nil when fn fails with a context error (it
	// counts it as an interrupted wait and returns its last conflict,
	// none): keep fn's own last error and use it then.
	var lastErr error
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lastErr = approveOnce()
		return lastErr
	})
	if err == nil {
		err = lastErr
	}
	switch {
	case err != nil && apierrors.IsNotFound(err):
		d.Outcome, d.Note = Skipped, "CSR was deleted"
		return d, nil
	case err != nil:
		verb := "approving"
		if d.Outcome == Denied {
			verb = "denying"
		}
		d.Outcome = Skipped
		return d, fmt.Errorf("%s certificate signing request %s: %w", verb, csr.Name, err)
	}
	if !IsPending(cur) && len(cur.Status.Conditions) > 0 && !hasOurCondition(cur, d) {
		// Someone else decided between our read and our write.
		if isApproved(cur) {
			d.Outcome, d.Note = Approved, "already approved by someone else"
		} else {
			d.Outcome, d.Note = Skipped, "already decided by someone else"
		}
	}
	return d, nil
}

func hasOurCondition(csr *certv1.CertificateSigningRequest, d Decision) bool {
	for _, c := range csr.Status.Conditions {
		if strings.HasPrefix(c.Reason, "Lifeboat") && (c.Type == certv1.CertificateApproved) == (d.Outcome == Approved) {
			return true
		}
	}
	return false
}

func condition(d Decision, now time.Time) certv1.CertificateSigningRequestCondition {
	t := metav1.NewTime(now)
	if d.Outcome == Approved {
		return certv1.CertificateSigningRequestCondition{
			Type:               certv1.CertificateApproved,
			Status:             corev1.ConditionTrue,
			Reason:             d.Policy.conditionReason(),
			Message:            fmt.Sprintf("approved by lifeboat under policy %s for node %s", d.Policy, d.Node),
			LastUpdateTime:     t,
			LastTransitionTime: t,
		}
	}
	return certv1.CertificateSigningRequestCondition{
		Type:               certv1.CertificateDenied,
		Status:             corev1.ConditionTrue,
		Reason:             "LifeboatValidationFailed",
		Message:            "denied by lifeboat: " + strings.Join(d.Reasons, "; "),
		LastUpdateTime:     t,
		LastTransitionTime: t,
	}
}
