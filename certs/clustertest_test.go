package certs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"sort"
	"strings"
	"testing"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// pendingOfKind waits until n pending CSRs of signer exist and returns them.
func pendingOfKind(t *testing.T, ctx context.Context, kube kubernetes.Interface, signer string, n int) []certv1.CertificateSigningRequest {
	t.Helper()
	var got []certv1.CertificateSigningRequest
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		all, err := certs.PendingCSRs(ctx, kube)
		if err != nil {
			return false, nil
		}
		got = got[:0]
		for _, c := range all {
			if c.Spec.SignerName == signer {
				got = append(got, c)
			}
		}
		return len(got) >= n, nil
	})
	if err != nil {
		t.Fatalf("waiting for %d pending %s CSRs: got %d: %v", n, signer, len(got), err)
	}
	return got
}

// impersonate returns a client acting as user in groups.
func impersonate(t *testing.T, cfg *rest.Config, user string, groups ...string) kubernetes.Interface {
	t.Helper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	k, err := kubernetes.NewForConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemCSR(t testing.TB, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// Runbook 5.4 on the simulated cluster with the real kube-apiserver: the
// kubelets' client certificates expire, the nodes file node-bootstrapper
// CSRs, and ApproveNodeBootstrapperCSRs approves exactly the valid ones
// through the approval subresource; then the serving CSRs the nodes file.
func TestApproveOnClusterTest(t *testing.T) {
	t.Parallel() // its own cluster
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := clustertest.Start(t, clustertest.Options{})
	nodes := append(c.Masters(), c.Workers()...)
	if err := c.ExpireNodeCertificates(ctx, nodes...); err != nil {
		t.Fatal(err)
	}
	valid := pendingOfKind(t, ctx, c.Kube, certv1.KubeAPIServerClientKubeletSignerName, len(nodes))
	// Runbook 4.2: the nodes are NotReady before their CSRs are approved.
	// The node controller's verdict (Ready=Unknown and the unreachable
	// taint) can come after the kubelet filed its CSR: wait for it, as an
	// administrator checks "oc get nodes" first.
	waitNodesUnreachable(t, ctx, c.Kube, nodes)

	// Bogus CSRs filed through the real API, each must stay pending.
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:openshift-machine-config-operator"}
	bootstrapper := impersonate(t, c.RESTConfig, certs.NodeBootstrapperUser, groups...)
	mkCSR := func(k kubernetes.Interface, name, signer string, tmpl *x509.CertificateRequest, usages ...certv1.KeyUsage) {
		_, err := k.CertificatesV1().CertificateSigningRequests().Create(ctx, &certv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       certv1.CertificateSigningRequestSpec{Request: pemCSR(t, tmpl), SignerName: signer, Usages: usages},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	clientUsages := []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth}
	mkCSR(bootstrapper, "bogus-masters", certv1.KubeAPIServerClientKubeletSignerName,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:" + nodes[0], Organization: []string{"system:nodes", "system:masters"}}}, clientUsages...)
	mkCSR(bootstrapper, "bogus-no-machine", certv1.KubeAPIServerClientKubeletSignerName,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:intruder", Organization: []string{"system:nodes"}}}, clientUsages...)
	mkCSR(c.Kube, "bogus-admin-requestor", certv1.KubeAPIServerClientKubeletSignerName,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:" + nodes[1], Organization: []string{"system:nodes"}}}, clientUsages...)

	ds, err := certs.ApproveNodeBootstrapperCSRs(ctx, c.Kube, c.Machine, certs.ApproveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantApproved := map[string]string{} // CSR name -> node
	for _, v := range valid {
		wantApproved[v.Name] = ""
	}
	approvedNodes := map[string]bool{}
	for _, d := range ds {
		_, want := wantApproved[d.Name]
		t.Logf("%v", d)
		if want != (d.Outcome == certs.Approved) {
			t.Errorf("%s: outcome %s, want approved=%v: %v", d.Name, d.Outcome, want, d)
		}
		if want {
			approvedNodes[d.Node] = true
			if d.Policy != certs.PolicyExpiredClientCertificate {
				t.Errorf("%s: policy %s", d.Name, d.Policy)
			}
		}
	}
	if len(approvedNodes) != len(nodes) {
		t.Errorf("approved CSRs for %v, want every node %v", approvedNodes, nodes)
	}
	for _, name := range []string{"bogus-masters", "bogus-no-machine", "bogus-admin-requestor"} {
		got, err := c.Kube.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !certs.IsPending(got) {
			t.Errorf("%s is not pending: %+v", name, got.Status.Conditions)
		}
	}
	for name := range wantApproved {
		got, err := c.Kube.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !certs.IsApproved(got) || got.Status.Conditions[0].Reason != "LifeboatExpiredClientCertificate" {
			t.Errorf("%s conditions %+v", name, got.Status.Conditions)
		}
	}

	// Idempotent: a second run approves nothing more.
	again, err := certs.ApproveNodeBootstrapperCSRs(ctx, c.Kube, c.Machine, certs.ApproveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range again {
		if d.Outcome == certs.Approved {
			t.Errorf("second run approved %v", d)
		}
	}

	// The signer issues, the nodes turn Ready and file serving CSRs.
	serving := pendingOfKind(t, ctx, c.Kube, certv1.KubeletServingSignerName, len(nodes))
	_ = serving
	ds, err = certs.ApproveKubeletServingCSRs(ctx, c.Kube, c.Machine, certs.ApproveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var servingApproved []string
	for _, d := range ds {
		if d.Outcome == certs.Approved {
			servingApproved = append(servingApproved, d.Node)
		} else if d.Kind == certs.KindKubeletServing {
			t.Errorf("serving CSR not approved: %v", d)
		}
	}
	sort.Strings(servingApproved)
	sorted := append([]string(nil), nodes...)
	sort.Strings(sorted)
	if strings.Join(servingApproved, ",") != strings.Join(sorted, ",") {
		t.Errorf("serving approved for %v, want %v", servingApproved, sorted)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status != corev1.ConditionTrue {
					return false, nil
				}
			}
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("nodes not Ready after approval: %v", err)
	}

	// A new node (PolicyNewNode): a Machine with addresses and no nodeRef
	// yet, no Node, and a node-bootstrapper CSR filed after the Machine. The
	// Machine lives in a namespace of its own so that clustertest's machine
	// controller does not provision it.
	const ns = "lifeboat-new-nodes"
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Machine.MachineV1beta1().Machines(ns).Create(ctx, &machinev1beta1.Machine{ObjectMeta: metav1.ObjectMeta{Name: "new-worker-machine"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalDNS, Address: "new-worker.ec2.internal"}, {Type: corev1.NodeInternalIP, Address: "10.0.200.1"}}
	if _, err := c.Machine.MachineV1beta1().Machines(ns).UpdateStatus(ctx, m, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mkCSR(bootstrapper, "new-worker-client", certv1.KubeAPIServerClientKubeletSignerName,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:new-worker.ec2.internal", Organization: []string{"system:nodes"}}}, clientUsages...)
	ds, err = certs.ApproveNodeBootstrapperCSRs(ctx, c.Kube, c.Machine, certs.ApproveOptions{MachineNamespace: ns, Names: []string{"new-worker-client", "bogus-masters"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]certs.Decision{}
	for _, d := range ds {
		got[d.Name] = d
	}
	if d := got["new-worker-client"]; d.Outcome != certs.Approved || d.Policy != certs.PolicyNewNode {
		t.Errorf("new node CSR: %v", d)
	}
	if d := got["bogus-masters"]; d.Outcome != certs.Skipped {
		t.Errorf("bogus-masters: %v", d)
	}
	nw, err := c.Kube.CertificatesV1().CertificateSigningRequests().Get(ctx, "new-worker-client", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !certs.IsApproved(nw) || nw.Status.Conditions[0].Reason != "LifeboatNodeBootstrapper" {
		t.Errorf("new-worker-client conditions %+v", nw.Status.Conditions)
	}
}

// waitNodesUnreachable waits until every node carries the node
// controller's verdict on a kubelet that stopped posting status:
// Ready=Unknown and the unreachable taint.
func waitNodesUnreachable(t *testing.T, ctx context.Context, k kubernetes.Interface, nodes []string) {
	t.Helper()
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, n := range nodes {
			node, err := k.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			unknown, tainted := false, false
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionUnknown {
					unknown = true
				}
			}
			for _, tn := range node.Spec.Taints {
				if tn.Key == certs.TaintUnreachable {
					tainted = true
				}
			}
			if !unknown || !tainted {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("nodes %v never became unreachable (Ready=Unknown, %s): %v", nodes, certs.TaintUnreachable, err)
	}
}
