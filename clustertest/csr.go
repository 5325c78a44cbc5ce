package clustertest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Kubelet certificates. ExpireNodeCertificates plays the kubelet of a node
// finding its client certificate expired (for example after a cluster was
// shut down past its first certificate rotation, runbook 4.2 and 5.4): the
// node stops posting status (NotReady, see nodes.go) and, while its machine
// is powered on, its kubelet files a bootstrap CSR the way the kubelet does
// with its bootstrap kubeconfig:
//
//   - a PEM x509 certificate request from a fresh ECDSA P-256 key of the
//     node, subject CN=system:node:<node>, O=system:nodes;
//   - signerName kubernetes.io/kube-apiserver-client-kubelet, usages
//     digital signature, key encipherment and client auth (what the
//     OpenShift 4.5 kubelet, v1.18, sends);
//   - created as the node-bootstrapper service account
//     (system:serviceaccount:openshift-machine-config-operator:node-bootstrapper),
//     so spec.username and spec.groups are what the cluster shows.
//
// Once an administrator approves it (the approval subresource), the signer
// below issues it, the node is Ready again and its kubelet files a
// kubelet-serving CSR as system:node:<node> (signer kubernetes.io/kubelet-serving,
// SANs = the node's addresses, usages digital signature, key encipherment,
// server auth). Denied or failed CSRs are never signed.

const (
	nodeBootstrapperUser  = "system:serviceaccount:openshift-machine-config-operator:node-bootstrapper"
	nodeBootstrapperRBAC  = "clustertest:node-csr-filers"
	csrIssuedCertLifetime = 30 * 24 * time.Hour
)

var nodeBootstrapperGroups = []string{
	"system:serviceaccounts",
	"system:serviceaccounts:openshift-machine-config-operator",
	"system:authenticated",
}

// nodeCerts is a node's kubelet certificate state.
type nodeCerts struct {
	expired bool // client certificate expired, no new one issued yet

	clientKey crypto.Signer
	clientCSR string // name of the pending client CSR, "" if none filed

	servingKey crypto.Signer
	servingCSR string // name of the serving CSR, "" if none filed
	needServe  bool   // a serving CSR must be filed
}

// ExpireNodeCertificates marks the kubelet client certificates of the named
// nodes as expired. Each node turns NotReady (Ready=Unknown, unreachable
// taints) and, whenever its machine is powered on, files a pending
// node-bootstrapper CSR; approving that CSR (oc adm certificate approve) gets
// it signed, makes the node Ready again and makes it file a kubelet-serving
// CSR. Expiring a node that is already expired and not yet re-issued is a
// no-op. It does not need the API: a test may expire the certificates of a
// cluster that is shut down, then start its machines (runbook chapter 4). A
// node without a host is an error wrapping ErrNoHost.
func (c *Cluster) ExpireNodeCertificates(ctx context.Context, nodes ...string) error {
	for _, n := range nodes {
		if c.Host(n) == nil {
			return fmt.Errorf("clustertest: expiring certificates of node %q: %w", n, ErrNoHost)
		}
	}
	s := c.sim()
	defer c.kickControllers()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range nodes {
		st := s.certs[n]
		if st == nil {
			st = &nodeCerts{}
			s.certs[n] = st
		}
		if st.expired {
			continue
		}
		st.expired = true
		st.clientKey, st.clientCSR = nil, ""
	}
	return nil
}

// nodeCertExpired reports whether node's kubelet client certificate is
// expired and not yet re-issued.
func (c *Cluster) nodeCertExpired(node string) bool {
	s := c.sim()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.certs[node]
	return st != nil && st.expired
}

// impersonatedKube returns a clientset acting as user with groups, built from
// the admin identity (which may impersonate).
func (c *Cluster) impersonatedKube(user string, groups []string) (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(c.RESTConfig)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return kubernetes.NewForConfig(cfg)
}

// ensureCSRFilerRBAC lets the node-bootstrapper service account and the
// system:nodes group create CSRs, as an OpenShift cluster does.
func (c *Cluster) ensureCSRFilerRBAC(ctx context.Context) error {
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: nodeBootstrapperRBAC},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node-bootstrapper"},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.ServiceAccountKind, Name: "node-bootstrapper", Namespace: "openshift-machine-config-operator"},
			{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:nodes"},
		},
	}
	_, err := c.ctlKube().RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating cluster role binding %s: %w", nodeBootstrapperRBAC, err)
	}
	return nil
}

// syncNodeCSRs is one pass of the kubelets' certificate bootstrap: nodes
// with expired certificates file client CSRs, notice issued ones, and file
// serving CSRs.
func (c *Cluster) syncNodeCSRs(ctx context.Context) error {
	s := c.sim()
	s.mu.Lock()
	var pending []string
	for n, st := range s.certs {
		if st.expired || st.needServe {
			pending = append(pending, n)
		}
	}
	s.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	if err := c.ensureCSRFilerRBAC(ctx); err != nil {
		return err
	}
	var errs []error
	for _, n := range pending {
		if h := c.Host(n); h == nil || !h.Powered() {
			continue // no kubelet running
		}
		if err := c.syncNodeCSR(ctx, n); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) syncNodeCSR(ctx context.Context, node string) error {
	s := c.sim()
	s.mu.Lock()
	st := s.certs[node]
	expired, clientName, clientKey := st.expired, st.clientCSR, st.clientKey
	needServe, servingName := st.needServe, st.servingCSR
	s.mu.Unlock()

	csrs := c.ctlKube().CertificatesV1().CertificateSigningRequests()
	if expired {
		if clientName != "" {
			csr, err := csrs.Get(ctx, clientName, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				clientName = "" // deleted (or garbage collected): file again
			case err != nil:
				return err
			case len(csr.Status.Certificate) > 0:
				if err := certMatchesKey(csr.Status.Certificate, clientKey); err != nil {
					return fmt.Errorf("client CSR %s: %w", clientName, err)
				}
				s.mu.Lock()
				st.expired, st.needServe = false, true
				s.mu.Unlock()
				return nil
			case csrDenied(csr):
				return nil // the kubelet keeps waiting; an administrator must act
			default:
				return nil // pending
			}
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		req, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
		}, key)
		if err != nil {
			return err
		}
		created, err := c.fileCSR(ctx, nodeBootstrapperUser, nodeBootstrapperGroups, req,
			certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.UsageClientAuth)
		if err != nil {
			return fmt.Errorf("filing client CSR: %w", err)
		}
		s.mu.Lock()
		st.clientKey, st.clientCSR = key, created.Name
		s.mu.Unlock()
		return nil
	}
	if !needServe {
		return nil
	}
	if servingName != "" {
		_, err := csrs.Get(ctx, servingName, metav1.GetOptions{})
		if err == nil {
			s.mu.Lock()
			st.needServe = false
			s.mu.Unlock()
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
	}
	n, err := c.ctlKube().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
	}
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeHostName, corev1.NodeInternalDNS, corev1.NodeExternalDNS:
			tmpl.DNSNames = appendUnique(tmpl.DNSNames, a.Address)
		case corev1.NodeInternalIP, corev1.NodeExternalIP:
			if ip := net.ParseIP(a.Address); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		}
	}
	req, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return err
	}
	created, err := c.fileCSR(ctx, "system:node:"+node, []string{"system:nodes", "system:authenticated"}, req,
		certificatesv1.KubeletServingSignerName, certificatesv1.UsageServerAuth)
	if err != nil {
		return fmt.Errorf("filing serving CSR: %w", err)
	}
	s.mu.Lock()
	st.servingKey, st.servingCSR, st.needServe = key, created.Name, false
	s.mu.Unlock()
	return nil
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// certMatchesKey checks that certPEM certifies key's public key.
func certMatchesKey(certPEM []byte, key crypto.Signer) error {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("issued certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("parsing issued certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if key == nil || !ok || !pub.Equal(key.Public()) {
		return errors.New("issued certificate does not match the kubelet's key")
	}
	return nil
}

func csrCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == t && (c.Status == "" || c.Status == corev1.ConditionTrue) {
			return true
		}
	}
	return false
}

func csrDenied(csr *certificatesv1.CertificateSigningRequest) bool {
	return csrCondition(csr, certificatesv1.CertificateDenied) || csrCondition(csr, certificatesv1.CertificateFailed)
}

// syncCSRSigner is one pass of the kube-controller-manager's CSR signer for
// the kubelet signers: every approved, not denied or failed, not yet issued
// CSR gets a certificate from the cluster CA, written through the status
// subresource.
func (c *Cluster) syncCSRSigner(ctx context.Context) error {
	list, err := c.ctlKube().CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing CSRs: %w", err)
	}
	var errs []error
	for i := range list.Items {
		csr := &list.Items[i]
		if len(csr.Status.Certificate) > 0 || !csrCondition(csr, certificatesv1.CertificateApproved) || csrDenied(csr) {
			continue
		}
		var usages []x509.ExtKeyUsage
		switch csr.Spec.SignerName {
		case certificatesv1.KubeAPIServerClientKubeletSignerName, certificatesv1.KubeAPIServerClientSignerName:
			usages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		case certificatesv1.KubeletServingSignerName:
			usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		default:
			continue // not ours
		}
		certPEM, err := c.PKI.SignCSR(csr.Spec.Request, usages, time.Now().Add(csrIssuedCertLifetime))
		if err != nil {
			errs = append(errs, fmt.Errorf("signing CSR %s: %w", csr.Name, err))
			continue
		}
		csr.Status.Certificate = certPEM
		if _, err := c.ctlKube().CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, csr, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("issuing CSR %s: %w", csr.Name, err))
		}
	}
	return errors.Join(errs...)
}

// fileCSR creates a CSR for the DER request as user (impersonated) with the
// kubelet's usages: digital signature, key encipherment and purpose.
func (c *Cluster) fileCSR(ctx context.Context, user string, groups []string, req []byte, signer string, purpose certificatesv1.KeyUsage) (*certificatesv1.CertificateSigningRequest, error) {
	kc, err := c.impersonatedKube(user, groups)
	if err != nil {
		return nil, err
	}
	return kc.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: req}),
			SignerName: signer,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, purpose},
		},
	}, metav1.CreateOptions{})
}
