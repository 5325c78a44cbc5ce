package clustertest

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeState describes a node's readiness and unreachable taints.
func nodeState(ctx context.Context, c *Cluster, node string) (ready corev1.ConditionStatus, reason string, unreachable []corev1.TaintEffect, err error) {
	n, err := c.Kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return "", "", nil, err
	}
	if cond := nodeReadyCondition(n); cond != nil {
		ready, reason = cond.Status, cond.Reason
	}
	for _, t := range n.Spec.Taints {
		if t.Key == taintUnreachable {
			unreachable = append(unreachable, t.Effect)
		}
	}
	return ready, reason, unreachable, nil
}

func waitNodeNotReady(t *testing.T, c *Cluster, node string) {
	t.Helper()
	eventually(t, 20*time.Second, node+" NotReady and unreachable", func(ctx context.Context) (bool, string) {
		ready, reason, taints, err := nodeState(ctx, c, node)
		if err != nil {
			return false, err.Error()
		}
		return ready == corev1.ConditionUnknown && reason == nodeUnknownReason &&
				slices.Contains(taints, corev1.TaintEffectNoSchedule) && slices.Contains(taints, corev1.TaintEffectNoExecute),
			fmt.Sprintf("Ready=%s (%s), unreachable taints %v", ready, reason, taints)
	})
}

func waitNodeReady(t *testing.T, c *Cluster, node string) {
	t.Helper()
	eventually(t, 30*time.Second, node+" Ready", func(ctx context.Context) (bool, string) {
		ready, reason, taints, err := nodeState(ctx, c, node)
		if err != nil {
			return false, err.Error()
		}
		return ready == corev1.ConditionTrue && len(taints) == 0, fmt.Sprintf("Ready=%s (%s), unreachable taints %v", ready, reason, taints)
	})
}

func machineState(ctx context.Context, c *Cluster, node string) (string, string, error) {
	m, err := c.machineForNode(ctx, node)
	if err != nil {
		return "", "", err
	}
	return providerInstanceState(m.Status.ProviderStatus), m.Annotations[machineInstanceStateAnno], nil
}

func TestStopAndStartMachine(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, fastOptions())
	ctx := t.Context()
	victim := c.Masters()[2]

	if err := c.StopMachine(ctx, victim); err != nil {
		t.Fatal(err)
	}
	state, anno, err := machineState(ctx, c, victim)
	if err != nil || state != instanceStopped || anno != instanceStopped {
		t.Errorf("machine of %s: instanceState %q, annotation %q, %v; want stopped", victim, state, anno, err)
	}
	waitNodeNotReady(t, c, victim)
	waitEtcdMessage(t, c, condEtcdMembersAvailable, fmt.Sprintf("2 of 3 members are available, %s is unhealthy", victim))
	if err := c.StopMachine(ctx, victim); err != nil {
		t.Errorf("stopping a stopped machine: %v", err)
	}

	if err := c.StartMachine(ctx, victim); err != nil {
		t.Fatal(err)
	}
	waitNodeReady(t, c, victim)
	state, anno, err = machineState(ctx, c, victim)
	if err != nil || state != instanceRunning || anno != instanceRunning {
		t.Errorf("machine of %s: instanceState %q, annotation %q, %v; want running", victim, state, anno, err)
	}
	waitEtcdMessage(t, c, condEtcdMembersAvailable, "3 members are available")

	for name, f := range map[string]func() error{
		"StopMachine":            func() error { return c.StopMachine(ctx, "nope") },
		"StartMachine":           func() error { return c.StartMachine(ctx, "nope") },
		"KillEtcd":               func() error { return c.KillEtcd(ctx, "nope") },
		"CrashloopEtcd":          func() error { return c.CrashloopEtcd(ctx, "nope") },
		"LoseHost":               func() error { return c.LoseHost(ctx, "nope") },
		"ExpireNodeCertificates": func() error { return c.ExpireNodeCertificates(ctx, "nope") },
	} {
		t.Run("unknown node/"+name, func(t *testing.T) {
			if err := f(); !errors.Is(err, ErrNoHost) {
				t.Errorf("err = %v, want ErrNoHost", err)
			}
		})
	}

	// Losing a host deletes its tree and stops its machine.
	lost := c.Workers()[0]
	if err := c.LoseHost(ctx, lost); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(c.Host(lost).Root())
	if err != nil || len(entries) != 0 {
		t.Errorf("host tree after LoseHost: %d entries, %v", len(entries), err)
	}
	if state, _, err := machineState(ctx, c, lost); err != nil || state != instanceStopped {
		t.Errorf("machine of lost host: %q, %v", state, err)
	}
	waitNodeNotReady(t, c, lost)
}

func TestExpireNodeCertificates(t *testing.T) {
	t.Parallel() // its own cluster
	c := Start(t, fastOptions())
	ctx := t.Context()
	node := c.Workers()[0]
	if err := c.ExpireNodeCertificates(ctx, node); err != nil {
		t.Fatal(err)
	}
	waitNodeNotReady(t, c, node)
	t.Run("denied CSR is not signed", func(t *testing.T) { testDeniedCSR(t, c, c.Masters()[0]) })

	// A pending client CSR from the node-bootstrapper appears.
	var csr *certificatesv1.CertificateSigningRequest
	eventually(t, 20*time.Second, "pending node-bootstrapper CSR", func(ctx context.Context) (bool, string) {
		list, err := c.Kube.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for i := range list.Items {
			if list.Items[i].Spec.Username == nodeBootstrapperUser && csrSubject(&list.Items[i]) == "system:node:"+node {
				csr = &list.Items[i]
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d CSRs", len(list.Items))
	})
	if csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
		t.Errorf("signer = %s", csr.Spec.SignerName)
	}
	for _, g := range nodeBootstrapperGroups {
		if !slices.Contains(csr.Spec.Groups, g) {
			t.Errorf("groups %v lack %s", csr.Spec.Groups, g)
		}
	}
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		t.Fatal("request is not PEM")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if req.Subject.CommonName != "system:node:"+node || !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject = %v", req.Subject)
	}
	if len(csr.Status.Conditions) != 0 || len(csr.Status.Certificate) != 0 {
		t.Errorf("CSR not pending: %+v", csr.Status)
	}
	time.Sleep(5 * c.controllerInterval())
	if posting, _ := c.kubeletPosting(node); posting {
		t.Error("node posting before its CSR was approved")
	}

	// Approve through the approval subresource, as oc adm certificate approve.
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "TestApprove", Message: "approved by test",
	})
	if _, err := c.Kube.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "client certificate issued", func(ctx context.Context) (bool, string) {
		got, err := c.Kube.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return len(got.Status.Certificate) > 0, "no certificate"
	})
	waitNodeReady(t, c, node)

	// Then the kubelet asks for its serving certificate.
	eventually(t, 20*time.Second, "kubelet-serving CSR", func(ctx context.Context) (bool, string) {
		list, err := c.Kube.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, x := range list.Items {
			if x.Spec.Username == "system:node:"+node && x.Spec.SignerName == certificatesv1.KubeletServingSignerName {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d CSRs", len(list.Items))
	})
}

func testDeniedCSR(t *testing.T, c *Cluster, node string) {
	ctx := t.Context()
	if err := c.ExpireNodeCertificates(ctx, node); err != nil {
		t.Fatal(err)
	}
	var name string
	eventually(t, 20*time.Second, "pending CSR", func(ctx context.Context) (bool, string) {
		list, err := c.Kube.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, x := range list.Items {
			if x.Spec.Username == nodeBootstrapperUser && csrSubject(&x) == "system:node:"+node {
				name = x.Name
				return true, ""
			}
		}
		return false, "none"
	})
	csr, err := c.Kube.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "TestDeny",
	})
	if _, err := c.Kube.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, csr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * c.controllerInterval())
	got, err := c.Kube.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Certificate) != 0 {
		t.Error("denied CSR was signed")
	}
	if ready, _, _, _ := nodeState(ctx, c, node); ready == corev1.ConditionTrue {
		t.Error("node Ready with a denied CSR")
	}
}

// csrSubject is the common name a CSR asks for.
func csrSubject(csr *certificatesv1.CertificateSigningRequest) string {
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		return ""
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return ""
	}
	return req.Subject.CommonName
}
