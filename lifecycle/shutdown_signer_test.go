package lifecycle

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func certPEM(t *testing.T, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: notAfter.Add(-time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func signerSecret(annotation string, crt []byte) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: kubeletSignerSecret, Namespace: kubeletSignerNamespace}}
	if annotation != "" {
		s.Annotations = map[string]string{certificateNotAfterAnnotation: annotation}
	}
	if crt != nil {
		s.Data = map[string][]byte{corev1.TLSCertKey: crt}
	}
	return s
}

func TestKubeletSignerNotAfter(t *testing.T) {
	certExpiry := time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name    string
		secret  *corev1.Secret
		want    time.Time
		wantErr error
	}{
		{"annotation", signerSecret("2027-08-05T14:37:50Z", nil), time.Date(2027, 8, 5, 14, 37, 50, 0, time.UTC), nil},
		{"annotation wins over the certificate", signerSecret("2027-08-05T14:37:50Z", certPEM(t, certExpiry)), time.Date(2027, 8, 5, 14, 37, 50, 0, time.UTC), nil},
		{"no annotation: the certificate", signerSecret("", certPEM(t, certExpiry)), certExpiry, nil},
		{"bad annotation: the certificate", signerSecret("next tuesday", certPEM(t, certExpiry)), certExpiry, nil},
		{"bad annotation, no certificate", signerSecret("next tuesday", nil), time.Time{}, ErrSignerExpiryUnknown},
		{"nothing", signerSecret("", nil), time.Time{}, ErrSignerExpiryUnknown},
		{"garbage certificate", signerSecret("", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")), time.Time{}, ErrSignerExpiryUnknown},
		{"no secret", nil, time.Time{}, ErrSignerExpiryUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.secret != nil {
				objs = append(objs, tc.secret)
			}
			got, err := kubeletSignerNotAfter(context.Background(), fake.NewClientset(objs...))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !got.Equal(tc.want) {
				t.Errorf("NotAfter = %s, want %s", got, tc.want)
			}
			if tc.secret == nil && !apierrors.IsNotFound(err) {
				t.Errorf("err = %v, want the API's NotFound wrapped", err)
			}
		})
	}
}

// TestShutdownSignerExpiry: a shutdown planned to outlast the kubelet
// signer is refused before any node is cordoned or any host touched, with
// the expiry date in the error; IgnoreSignerExpiry goes on; an unknown
// expiry is refused only when a duration was planned.
func TestShutdownSignerExpiry(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	expires := "2026-12-20T08:00:00Z"
	tests := []struct {
		name     string
		secret   *corev1.Secret
		opts     ShutdownOptions
		wantErr  error
		wantDown bool
		dry      bool
	}{
		{"outlasts the signer: refused", signerSecret(expires, nil), ShutdownOptions{PlannedDuration: 30 * 24 * time.Hour}, ErrSignerExpiresBeforeRestart, false, false},
		{"refused in a dry run too", signerSecret(expires, nil), ShutdownOptions{PlannedDuration: 30 * 24 * time.Hour, Cordon: true}, ErrSignerExpiresBeforeRestart, false, true},
		{"ends the second it expires: refused", signerSecret(expires, nil), ShutdownOptions{PlannedDuration: 476 * time.Hour}, ErrSignerExpiresBeforeRestart, false, false},
		{"within the signer's life", signerSecret(expires, nil), ShutdownOptions{PlannedDuration: 7 * 24 * time.Hour, Cordon: true}, nil, true, false},
		{"ignored", signerSecret(expires, nil), ShutdownOptions{PlannedDuration: 30 * 24 * time.Hour, IgnoreSignerExpiry: true}, nil, true, false},
		{"no duration planned: only reported", signerSecret(expires, nil), ShutdownOptions{}, nil, true, false},
		{"unknown expiry with a plan: refused", nil, ShutdownOptions{PlannedDuration: time.Hour}, ErrSignerExpiryUnknown, false, false},
		{"unknown expiry without a plan", nil, ShutdownOptions{}, nil, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := clusterNodes()
			if tc.secret != nil {
				objs = append(objs, tc.secret)
			}
			kube := fake.NewClientset(objs...)
			var patches int
			kube.PrependReactor("patch", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
				patches++
				return false, nil, nil
			})
			fleet := &fakeFleet{}
			tc.opts.Override = "test"
			tc.opts.Now = func() time.Time { return now }
			res, err := runShutdown(context.Background(), kube, fleet.hosts, tc.opts, tc.dry, nil)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			var se *SignerExpiryError
			if errors.Is(tc.wantErr, ErrSignerExpiresBeforeRestart) {
				if !errors.As(err, &se) || !strings.Contains(err.Error(), expires) {
					t.Errorf("err = %v, want a *SignerExpiryError naming %s", err, expires)
				}
			}
			if tc.secret != nil && res.SignerNotAfter.Format(time.RFC3339) != expires {
				t.Errorf("SignerNotAfter = %s", res.SignerNotAfter)
			}
			if down := len(fleet.shutdowns) > 0; down != (tc.wantDown && !tc.dry) {
				t.Errorf("host shutdowns %v", fleet.shutdowns)
			}
			if !tc.wantDown && patches != 0 {
				t.Errorf("%d node patches before the refusal", patches)
			}
		})
	}
}

// TestShutdownCordonAndDrain on the fake clientset: every schedulable node
// cordoned, the administrator's own cordon left alone and not reported,
// workers drained; Cordoned() lists masters first.
func TestShutdownCordonAndDrain(t *testing.T) {
	ctx := context.Background()
	objs := clusterNodes()
	objs = append(objs, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"},
		Spec:       corev1.PodSpec{NodeName: "worker-0"},
	})
	kube := fake.NewClientset(objs...)
	// The fake's discovery lists no eviction subresource: kubectl's drain
	// helper deletes the pods instead, as it does on such an API.
	kube.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "Pod"}}}}
	fleet := &fakeFleet{}
	res, err := runShutdown(ctx, kube, fleet.hosts, ShutdownOptions{Override: "x", DrainWorkers: true}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Cordoned(), ","); got != "master-1,master-2,worker-0,worker-1" {
		t.Errorf("Cordoned() = %s", got)
	}
	for _, n := range res.Nodes {
		node, err := kube.CoreV1().Nodes().Get(ctx, n.Node, metav1.GetOptions{})
		if err != nil || !node.Spec.Unschedulable {
			t.Errorf("%s unschedulable=%v err %v", n.Node, node.Spec.Unschedulable, err)
		}
		if n.Drained == n.Master || n.DrainErr != nil {
			t.Errorf("%s: drained %v err %v", n.Node, n.Drained, n.DrainErr)
		}
	}
	if _, err := kube.CoreV1().Pods("default").Get(ctx, "app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod on worker-0 after the drain: %v", err)
	}
	if len(fleet.shutdowns) != 5 {
		t.Errorf("shutdowns %v", fleet.shutdowns)
	}
}

// TestShutdownCordonFailureUndoes: a cordon that fails uncordons the nodes
// this call cordoned and shuts nothing down.
func TestShutdownCordonFailureUndoes(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset(clusterNodes()...)
	kube.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		if p.GetName() == "master-1" && strings.Contains(string(p.GetPatch()), "true") {
			return true, nil, apierrors.NewForbidden(corev1.Resource("nodes"), "master-1", errors.New("denied"))
		}
		return false, nil, nil
	})
	fleet := &fakeFleet{}
	res, err := runShutdown(ctx, kube, fleet.hosts, ShutdownOptions{Override: "x", Cordon: true}, false, nil)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "master-1") {
		t.Fatalf("err = %v", err)
	}
	if len(res.Cordoned()) != 0 || len(fleet.shutdowns) != 0 {
		t.Errorf("cordoned %v shutdowns %v", res.Cordoned(), fleet.shutdowns)
	}
	for _, n := range []string{"worker-0", "worker-1", "master-1", "master-2"} {
		node, _ := kube.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if node.Spec.Unschedulable {
			t.Errorf("%s left unschedulable", n)
		}
	}
	if node, _ := kube.CoreV1().Nodes().Get(ctx, "master-0", metav1.GetOptions{}); !node.Spec.Unschedulable {
		t.Error("the administrator's cordon on master-0 was undone")
	}
}

// TestRestartUncordonsInOrder: the nodes the shutdown cordoned are made
// schedulable once every node is Ready, in the order given; a node that is
// gone is skipped; other unschedulable nodes stay.
func TestRestartUncordonsInOrder(t *testing.T) {
	kube, machines := restartCluster(t, true)
	for _, n := range []string{"master-1", "worker-0"} {
		if _, err := setUnschedulable(context.Background(), kube, n, true); err != nil {
			t.Fatal(err)
		}
	}
	var order []string
	kube.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if strings.Contains(string(a.(k8stesting.PatchAction).GetPatch()), "false") {
			order = append(order, a.(k8stesting.PatchAction).GetName())
		}
		return false, nil, nil
	})
	res, err := runRestart(context.Background(), kube, nil, machines, RestartOptions{
		Interval: 5 * time.Millisecond, Uncordon: []string{"master-1", "master-9", "worker-0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "master-1,worker-0" || strings.Join(res.Uncordoned, ",") != "master-1,worker-0" {
		t.Errorf("uncordoned %v (patches %v)", res.Uncordoned, order)
	}
	if node, _ := kube.CoreV1().Nodes().Get(context.Background(), "master-0", metav1.GetOptions{}); !node.Spec.Unschedulable {
		t.Error("master-0, not listed, was uncordoned")
	}
}
