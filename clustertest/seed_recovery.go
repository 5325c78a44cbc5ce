package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The kube-apiserver-to-kubelet signer, as the kube-apiserver operator
// keeps it: a secret whose annotation says when the signing certificate
// expires (the date "Shutting down the cluster gracefully" tells the
// administrator to read before a long shutdown).
const (
	kubeletSignerNamespace  = "openshift-kube-apiserver-operator"
	kubeletSignerSecret     = "kube-apiserver-to-kubelet-signer"
	certNotAfterAnnotation  = "auth.openshift.io/certificate-not-after"
	certNotBeforeAnnotation = "auth.openshift.io/certificate-not-before"
)

// localhostRecoveryKubeconfig is where every master keeps the kubeconfig
// of its own kube-apiserver's localhost-recovery endpoint. In the
// simulation it points at the one real kube-apiserver with the admin
// credentials.
const localhostRecoveryKubeconfig = "/etc/kubernetes/static-pod-resources/kube-apiserver-certs/secrets/node-kubeconfigs/localhost-recovery.kubeconfig"

// seedKubeletSigner creates the signer secret with a CA certificate valid
// for one year from the installation, as a new cluster's is.
func (c *Cluster) seedKubeletSigner(ctx context.Context, installed metav1.Time) error {
	notAfter := installed.Add(365 * 24 * time.Hour).UTC().Truncate(time.Second)
	files, err := c.PKI.Issue("kube-apiserver-to-kubelet-signer", CertOptions{
		CommonName: "openshift-kube-apiserver-operator_kube-apiserver-to-kubelet-signer@" + fmt.Sprint(installed.Unix()),
		NotAfter:   notAfter,
	})
	if err != nil {
		return err
	}
	crt, err := os.ReadFile(files.CertFile)
	if err != nil {
		return fmt.Errorf("clustertest: kubelet signer: %w", err)
	}
	key, err := os.ReadFile(files.KeyFile)
	if err != nil {
		return fmt.Errorf("clustertest: kubelet signer: %w", err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: kubeletSignerSecret, Namespace: kubeletSignerNamespace,
			Annotations: map[string]string{
				certNotAfterAnnotation:  notAfter.Format(time.RFC3339),
				certNotBeforeAnnotation: installed.UTC().Format(time.RFC3339),
			},
		},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}
	if _, err := c.Kube.CoreV1().Secrets(kubeletSignerNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("clustertest: creating %s/%s: %w", kubeletSignerNamespace, kubeletSignerSecret, err)
	}
	return nil
}

// writeRecoveryKubeconfigs puts localhostRecoveryKubeconfig on every master.
func (c *Cluster) writeRecoveryKubeconfigs(ctx context.Context) error {
	raw, err := os.ReadFile(c.KubeconfigPath)
	if err != nil {
		return fmt.Errorf("clustertest: recovery kubeconfig: %w", err)
	}
	cfg, err := clientcmd.Load(raw)
	if err != nil {
		return fmt.Errorf("clustertest: recovery kubeconfig: %w", err)
	}
	rc := clientcmdapi.NewConfig()
	rc.Clusters["loopback"] = cfg.Clusters[c.name]
	rc.AuthInfos["system:admin"] = cfg.AuthInfos["admin"]
	rc.Contexts["system:admin"] = &clientcmdapi.Context{Cluster: "loopback", AuthInfo: "system:admin"}
	rc.CurrentContext = "system:admin"
	out, err := clientcmd.Write(*rc)
	if err != nil {
		return fmt.Errorf("clustertest: recovery kubeconfig: %w", err)
	}
	for _, h := range c.masterHosts() {
		if err := h.local.MkdirAll(ctx, path.Dir(localhostRecoveryKubeconfig), 0o755); err != nil {
			return fmt.Errorf("clustertest: recovery kubeconfig on %s: %w", h.name, err)
		}
		if err := h.local.WriteFile(ctx, localhostRecoveryKubeconfig, bytes.NewReader(out), 0o600); err != nil {
			return fmt.Errorf("clustertest: recovery kubeconfig on %s: %w", h.name, err)
		}
	}
	return nil
}
