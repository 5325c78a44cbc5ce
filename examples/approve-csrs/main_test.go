package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"os"
	"testing"
	"time"

	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/lifeboat-dev/lifeboat/certs"
	"github.com/lifeboat-dev/lifeboat/clustertest"
)

// runWith runs the program with args and returns its exit code.
func runWith(args ...string) int {
	flag.CommandLine = flag.NewFlagSet("approve-csrs", flag.ContinueOnError)
	os.Args = append([]string{"approve-csrs"}, args...)
	return run()
}

// The program on the simulated cluster (real kube-apiserver): dry run,
// approval of the node-bootstrapper CSRs the nodes file after their
// certificates expired, and exit code 2 for a bogus CSR left pending.
func TestApproveCSRsProgram(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := clustertest.Start(t, clustertest.Options{Workers: -1})
	if err := c.ExpireNodeCertificates(ctx, c.Masters()...); err != nil {
		t.Fatal(err)
	}
	countPending := func() int {
		p, err := certs.PendingCSRs(ctx, c.Kube)
		if err != nil {
			return -1
		}
		n := 0
		for _, csr := range p {
			if csr.Spec.SignerName == certv1.KubeAPIServerClientKubeletSignerName {
				n++
			}
		}
		return n
	}
	// Wait for what the administrator sees: the CSRs filed and the nodes
	// NotReady (a bootstrapper CSR for a Ready node is refused).
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := c.Kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, n := range list.Items {
			for _, cond := range n.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					return false, nil
				}
			}
		}
		return countPending() == len(c.Masters()), nil
	}); err != nil {
		t.Fatalf("nodes did not turn NotReady and file CSRs: %v", err)
	}

	if code := runWith("-kubeconfig", c.KubeconfigPath, "-dry-run"); code != 0 {
		t.Fatalf("dry run exit %d", code)
	}
	if n := countPending(); n != len(c.Masters()) {
		t.Fatalf("dry run approved something: %d pending", n)
	}
	if code := runWith("-kubeconfig", c.KubeconfigPath); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := countPending(); n != 0 {
		t.Fatalf("%d client CSRs still pending", n)
	}

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:intruder", Organization: []string{"system:nodes"}}}, key)
	if _, err := c.Kube.CertificatesV1().CertificateSigningRequests().Create(ctx, &certv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "bogus"},
		Spec: certv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageClientAuth},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if code := runWith("-kubeconfig", c.KubeconfigPath, "-names", "bogus"); code != 2 {
		t.Fatalf("bogus CSR: exit %d, want 2", code)
	}
	if code := runWith("-kubeconfig", c.KubeconfigPath, "-kind", "nonsense"); code != 1 {
		t.Fatalf("bad -kind: exit %d, want 1", code)
	}
}
