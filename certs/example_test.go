package certs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"time"

	machinev1beta1 "github.com/openshift/api/machine/v1beta1"
	machinefake "github.com/openshift/client-go/machine/clientset/versioned/fake"
	certv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lifeboat-dev/lifeboat/certs"
)

// newRequest returns a PEM PKCS#10 request such as a kubelet files.
func newRequest(cn string, orgs ...string) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: orgs},
	}, key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// After the cluster restarted with expired kubelet client certificates
// (runbook 5.4), master-0 filed a node-bootstrapper CSR; someone also filed
// one for master-0 asking to be in system:masters.
func ExampleApproveNodeBootstrapperCSRs() {
	ctx := context.Background()
	created := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:openshift-machine-config-operator", "system:authenticated"}
	usages := []certv1.KeyUsage{certv1.UsageDigitalSignature, certv1.UsageKeyEncipherment, certv1.UsageClientAuth}
	csr := func(name string, request []byte) *certv1.CertificateSigningRequest {
		return &certv1.CertificateSigningRequest{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: created},
			Spec: certv1.CertificateSigningRequestSpec{
				Request: request, SignerName: certv1.KubeAPIServerClientKubeletSignerName,
				Usages: usages, Username: certs.NodeBootstrapperUser, Groups: groups,
			},
		}
	}
	kube := fake.NewClientset(
		// master-0 stopped posting status: the node controller set
		// Ready=Unknown and the unreachable taint.
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "master-0"},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: certs.TaintUnreachable, Effect: corev1.TaintEffectNoExecute}}},
			Status: corev1.NodeStatus{
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}},
			}},
		csr("csr-good", newRequest("system:node:master-0", "system:nodes")),
		csr("csr-bad", newRequest("system:node:master-0", "system:nodes", "system:masters")),
	)
	machines := machinefake.NewClientset(&machinev1beta1.Machine{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-master-0", Namespace: "openshift-machine-api"},
		Status: machinev1beta1.MachineStatus{
			NodeRef:   &corev1.ObjectReference{Kind: "Node", Name: "master-0"},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalDNS, Address: "master-0"}},
		},
	})

	decisions, err := certs.ApproveNodeBootstrapperCSRs(ctx, kube, machines, certs.ApproveOptions{})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for _, d := range decisions {
		fmt.Println(d)
	}
	// Output:
	// csr-bad Skipped kind=node-client node=master-0: subject organization ["system:nodes" "system:masters"] is not exactly ["system:nodes"]
	// csr-good Approved kind=node-client node=master-0 policy=expired-client-certificate
}
