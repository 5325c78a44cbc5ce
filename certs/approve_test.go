package certs

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var fixedNow = func() time.Time { return t0.Add(4 * time.Hour) }

// fakes returns fake clients holding the fixture Machines and Nodes and csrs.
func fakes(t *testing.T, csrs ...*certv1.CertificateSigningRequest) (*fake.Clientset, *machinefake.Clientset) {
	t.Helper()
	ms, ns := fixtureObjects()
	var kobjs, mobjs []runtime.Object
	for _, n := range ns {
		kobjs = append(kobjs, n)
	}
	for _, c := range csrs {
		kobjs = append(kobjs, c)
	}
	for _, m := range ms {
		mobjs = append(mobjs, m)
	}
	return fake.NewClientset(kobjs...), machinefake.NewClientset(mobjs...)
}

func getCSR(t *testing.T, kube *fake.Clientset, name string) *certv1.CertificateSigningRequest {
	t.Helper()
	c, err := kube.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// trackedCSR reads a CSR from the tracker directly: reactors run with the
// fake's lock held and must not call the clientset.
func trackedCSR(t *testing.T, kube *fake.Clientset, name string) *certv1.CertificateSigningRequest {
	t.Helper()
	o, err := kube.Tracker().Get(certv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), "", name)
	if err != nil {
		t.Fatal(err)
	}
	return o.(*certv1.CertificateSigningRequest).DeepCopy()
}

func approvals(kube *fake.Clientset) int {
	n := 0
	for _, a := range kube.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "approval" {
			n++
		}
	}
	return n
}

func byName(ds []Decision) map[string]Decision {
	m := map[string]Decision{}
	for _, d := range ds {
		m[d.Name] = d
	}
	return m
}

func mixedCSRs(t *testing.T) []*certv1.CertificateSigningRequest {
	late := t0.Add(3 * time.Hour)
	bogus := clientCSR(t, "bogus-client", "worker-new", late)
	bogus.Spec.Groups = append(bogus.Spec.Groups, "system:masters")
	other := clientCSR(t, "other-signer", "worker-new", late)
	other.Spec.SignerName = "example.com/anything"
	approved := clientCSR(t, "done-already", "master-0", late)
	approved.Status.Conditions = []certv1.CertificateSigningRequestCondition{{Type: certv1.CertificateApproved, Status: corev1.ConditionTrue}}
	return []*certv1.CertificateSigningRequest{
		clientCSR(t, "new-node", "worker-new", late),
		clientCSR(t, "expired", "master-0", late),
		bogus, other, approved,
		servingCSR(t, "serving", "master-0", []string{"master-0"}, []string{"10.0.0.10"}),
	}
}

func TestApproveNodeBootstrapperCSRs(t *testing.T) {
	ctx := context.Background()
	kube, machines := fakes(t, mixedCSRs(t)...)
	ds, err := ApproveNodeBootstrapperCSRs(ctx, kube, machines, ApproveOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	got := byName(ds)
	if len(ds) != 5 {
		t.Errorf("got %d decisions, want 5 (every pending CSR): %v", len(ds), ds)
	}
	want := map[string]struct {
		outcome Outcome
		policy  Policy
		reason  string
	}{
		"new-node":     {Approved, PolicyNewNode, ""},
		"expired":      {Approved, PolicyExpiredClientCertificate, ""},
		"bogus-client": {Skipped, "", `include unexpected ["system:masters"]`},
		"other-signer": {Skipped, "", "never approves"},
		"serving":      {Skipped, "", "out of scope"},
	}
	for name, w := range want {
		d := got[name]
		if d.Outcome != w.outcome || d.Policy != w.policy {
			t.Errorf("%s: outcome %s policy %q, want %s %q (%v)", name, d.Outcome, d.Policy, w.outcome, w.policy, d)
		}
		if w.reason != "" && !strings.Contains(strings.Join(d.Reasons, "; "), w.reason) {
			t.Errorf("%s: reasons %q lack %q", name, d.Reasons, w.reason)
		}
		c := getCSR(t, kube, name)
		if (w.outcome == Approved) != isApproved(c) {
			t.Errorf("%s: approved in the API = %v, want %v", name, isApproved(c), w.outcome == Approved)
		}
	}
	c := getCSR(t, kube, "expired").Status.Conditions[0]
	if c.Reason != "LifeboatExpiredClientCertificate" || c.Status != corev1.ConditionTrue || !strings.Contains(c.Message, "lifeboat") ||
		!c.LastUpdateTime.Time.Equal(fixedNow()) {
		t.Errorf("condition = %+v", c)
	}
	if r := getCSR(t, kube, "new-node").Status.Conditions[0].Reason; r != "LifeboatNodeBootstrapper" {
		t.Errorf("new-node reason = %q", r)
	}
	if n := approvals(kube); n != 2 {
		t.Errorf("%d approval writes, want 2", n)
	}

	// Idempotent: a second review finds nothing left to approve.
	kube.ClearActions()
	ds, err = ApproveNodeBootstrapperCSRs(ctx, kube, machines, ApproveOptions{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	if n := approvals(kube); n != 0 {
		t.Errorf("second run wrote %d approvals", n)
	}
	for _, d := range ds {
		if d.Outcome == Approved {
			t.Errorf("second run approved %v", d)
		}
	}
}

func TestApproveKubeletServingCSRs(t *testing.T) {
	ctx := context.Background()
	evil := servingCSR(t, "evil", "master-0", []string{"master-0", "api.cluster.example.com"}, nil)
	kube, machines := fakes(t, append(mixedCSRs(t), evil)...)
	ds, err := ApproveKubeletServingCSRs(ctx, kube, machines, ApproveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := byName(ds)
	if d := got["serving"]; d.Outcome != Approved || d.Policy != PolicyKubeletServing {
		t.Errorf("serving: %v", d)
	}
	if d := got["evil"]; d.Outcome != Skipped || !strings.Contains(strings.Join(d.Reasons, ";"), "api.cluster.example.com") {
		t.Errorf("evil: %v", d)
	}
	for _, n := range []string{"new-node", "expired"} {
		if d := got[n]; d.Outcome != Skipped || isApproved(getCSR(t, kube, n)) {
			t.Errorf("%s approved by the serving review: %v", n, d)
		}
	}
	if r := getCSR(t, kube, "serving").Status.Conditions[0].Reason; r != "LifeboatKubeletServing" {
		t.Errorf("reason %q", r)
	}
}

func TestApprovePendingCSRsDryRun(t *testing.T) {
	kube, machines := fakes(t, mixedCSRs(t)...)
	ds, err := ApprovePendingCSRs(context.Background(), kube, machines, ApproveOptions{DryRun: true, Deny: true})
	if err != nil {
		t.Fatal(err)
	}
	got := byName(ds)
	for name, want := range map[string]Outcome{"new-node": Approved, "expired": Approved, "serving": Approved, "bogus-client": Denied, "other-signer": Skipped} {
		if d := got[name]; d.Outcome != want || d.DryRun != (want != Skipped) {
			t.Errorf("%s: %v, want %s", name, d, want)
		}
	}
	for _, a := range kube.Actions() {
		if a.GetVerb() != "list" {
			t.Errorf("dry run made a %s %s call", a.GetVerb(), a.GetResource().Resource)
		}
	}
}

func TestApproveDeny(t *testing.T) {
	kube, machines := fakes(t, mixedCSRs(t)...)
	ds, err := ApproveNodeBootstrapperCSRs(context.Background(), kube, machines, ApproveOptions{Deny: true})
	if err != nil {
		t.Fatal(err)
	}
	got := byName(ds)
	if d := got["bogus-client"]; d.Outcome != Denied {
		t.Errorf("bogus-client: %v", d)
	}
	c := getCSR(t, kube, "bogus-client")
	if len(c.Status.Conditions) != 1 || c.Status.Conditions[0].Type != certv1.CertificateDenied || !strings.Contains(c.Status.Conditions[0].Message, "system:masters") {
		t.Errorf("bogus-client conditions %+v", c.Status.Conditions)
	}
	// Other signers and out-of-scope kinds are never denied.
	for _, n := range []string{"other-signer", "serving"} {
		if !IsPending(getCSR(t, kube, n)) {
			t.Errorf("%s is no longer pending", n)
		}
	}
}

func TestApproveRetriesOnConflict(t *testing.T) {
	tests := []struct {
		name string
		// meanwhile runs at the first approval attempt, before the conflict.
		meanwhile    func(t *testing.T, kube *fake.Clientset)
		wantOutcome  Outcome
		wantNote     string
		wantWrites   int32
		wantApproved bool
		wantReason   string
	}{
		{
			name:         "conflict then approve",
			wantOutcome:  Approved,
			wantWrites:   2,
			wantApproved: true,
			wantReason:   "LifeboatNodeBootstrapper",
		},
		{
			name: "someone else approved meanwhile",
			meanwhile: func(t *testing.T, kube *fake.Clientset) {
				c := trackedCSR(t, kube, "new-node")
				c.Status.Conditions = append(c.Status.Conditions, certv1.CertificateSigningRequestCondition{Type: certv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "AdminApproved"})
				if err := kube.Tracker().Update(certv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), c, ""); err != nil {
					t.Error(err)
				}
			},
			wantOutcome:  Approved,
			wantNote:     "already approved by someone else",
			wantWrites:   1,
			wantApproved: true,
			wantReason:   "AdminApproved",
		},
		{
			name: "CSR changed meanwhile and no longer passes",
			meanwhile: func(t *testing.T, kube *fake.Clientset) {
				c := trackedCSR(t, kube, "new-node")
				c.Spec.Groups = append(c.Spec.Groups, "system:masters")
				if err := kube.Tracker().Update(certv1.SchemeGroupVersion.WithResource("certificatesigningrequests"), c, ""); err != nil {
					t.Error(err)
				}
			},
			wantOutcome: Skipped,
			wantWrites:  1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kube, machines := fakes(t, clientCSR(t, "new-node", "worker-new", t0.Add(3*time.Hour)))
			var writes atomic.Int32
			kube.PrependReactor("update", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
				if a.GetSubresource() != "approval" {
					return false, nil, nil
				}
				if writes.Add(1) == 1 {
					if tc.meanwhile != nil {
						tc.meanwhile(t, kube)
					}
					return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}, "new-node", nil)
				}
				return false, nil, nil
			})
			ds, err := ApproveNodeBootstrapperCSRs(context.Background(), kube, machines, ApproveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds) != 1 || ds[0].Outcome != tc.wantOutcome || ds[0].Note != tc.wantNote {
				t.Fatalf("decisions %v, want outcome %s note %q", ds, tc.wantOutcome, tc.wantNote)
			}
			if w := writes.Load(); w != tc.wantWrites {
				t.Errorf("%d approval writes, want %d", w, tc.wantWrites)
			}
			c := getCSR(t, kube, "new-node")
			if isApproved(c) != tc.wantApproved {
				t.Errorf("approved = %v, want %v", isApproved(c), tc.wantApproved)
			}
			if tc.wantApproved && c.Status.Conditions[0].Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", c.Status.Conditions[0].Reason, tc.wantReason)
			}
			if len(c.Status.Conditions) > 1 {
				t.Errorf("conditions %+v: approved twice", c.Status.Conditions)
			}
		})
	}
}

func TestApproveAPIErrors(t *testing.T) {
	kube, machines := fakes(t, clientCSR(t, "new-node", "worker-new", t0.Add(3*time.Hour)))
	kube.PrependReactor("update", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "certificatesigningrequests"}, "new-node", nil)
	})
	ds, err := ApproveNodeBootstrapperCSRs(context.Background(), kube, machines, ApproveOptions{})
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "approving certificate signing request new-node") {
		t.Fatalf("err = %v, want a wrapped Forbidden", err)
	}
	if len(ds) != 1 || ds[0].Outcome != Skipped {
		t.Errorf("decisions %v", ds)
	}

	kube2, _ := fakes(t)
	kube2.PrependReactor("list", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("down")
	})
	if _, err := PendingCSRs(context.Background(), kube2); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("PendingCSRs err = %v", err)
	}
}

func TestIsPending(t *testing.T) {
	tests := []struct {
		name   string
		status certv1.CertificateSigningRequestStatus
		want   bool
	}{
		{"fresh", certv1.CertificateSigningRequestStatus{}, true},
		{"approved", certv1.CertificateSigningRequestStatus{Conditions: []certv1.CertificateSigningRequestCondition{{Type: certv1.CertificateApproved}}}, false},
		{"denied", certv1.CertificateSigningRequestStatus{Conditions: []certv1.CertificateSigningRequestCondition{{Type: certv1.CertificateDenied}}}, false},
		{"failed", certv1.CertificateSigningRequestStatus{Conditions: []certv1.CertificateSigningRequestCondition{{Type: certv1.CertificateFailed}}}, false},
		{"issued", certv1.CertificateSigningRequestStatus{Certificate: []byte("x")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsPending(&certv1.CertificateSigningRequest{Status: tc.status}); got != tc.want {
				t.Errorf("IsPending = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestApproveCancelledIsNotApproved: an approval whose write fails with
// the caller's cancellation is reported as an error, never as Approved
// (retry.RetryOnConflict turns a context error into success: it counts
// context.Canceled as an interrupted wait and returns its last conflict,
// nil).
func TestApproveCancelledIsNotApproved(t *testing.T) {
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		t.Run(cause.Error(), func(t *testing.T) {
			kube, machines := fakes(t, clientCSR(t, "new-node", "worker-new", t0.Add(3*time.Hour)))
			kube.PrependReactor("update", "certificatesigningrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, cause
			})
			ds, err := ApproveNodeBootstrapperCSRs(context.Background(), kube, machines, ApproveOptions{})
			if !errors.Is(err, cause) {
				t.Fatalf("err = %v, want %v", err, cause)
			}
			for _, d := range ds {
				if d.Outcome == Approved {
					t.Errorf("decision %v: reported approved although the write failed", d)
				}
			}
		})
	}
}
