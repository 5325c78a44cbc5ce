package lifecycle

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The kube-apiserver-to-kubelet signer: the CA whose certificate the
// kube-apiserver operator keeps in this secret, with its expiry in the
// annotation that "Shutting down the cluster gracefully" (4.6 and later)
// tells the administrator to read before a long shutdown.
const (
	kubeletSignerNamespace = "openshift-kube-apiserver-operator"
	kubeletSignerSecret    = "kube-apiserver-to-kubelet-signer"
	// certificateNotAfterAnnotation holds the signer's expiry, RFC 3339.
	certificateNotAfterAnnotation = "auth.openshift.io/certificate-not-after"
)

// ErrSignerExpiresBeforeRestart is matched (errors.Is) by the
// *SignerExpiryError Shutdown returns when the kube-apiserver-to-kubelet
// signer expires before the planned restart: after that date the kubelets'
// client certificates cannot be renewed and the restarted cluster needs
// manual CSR approval or certificate recovery (runbook chapter 6).
var ErrSignerExpiresBeforeRestart = errors.New("the kube-apiserver-to-kubelet signer expires before the planned restart")

// ErrSignerExpiryUnknown is wrapped when the signer's expiry cannot be read
// (no secret, no annotation and no parsable certificate) although the
// caller planned a restart date that must be checked against it.
var ErrSignerExpiryUnknown = errors.New("the kube-apiserver-to-kubelet signer's expiry is unknown")

// SignerExpiryError says when the signer expires and when the restart is
// planned. errors.Is(err, ErrSignerExpiresBeforeRestart) holds.
type SignerExpiryError struct {
	// NotAfter is the signer's expiry; RestartBy is the shutdown's start
	// plus ShutdownOptions.PlannedDuration.
	NotAfter, RestartBy time.Time
}

func (e *SignerExpiryError) Error() string {
	return fmt.Sprintf("%v: %s/%s expires %s, the cluster is planned to restart by %s: restart it before %s, or set IgnoreSignerExpiry and be ready to approve the kubelets' CSRs by hand",
		ErrSignerExpiresBeforeRestart, kubeletSignerNamespace, kubeletSignerSecret,
		e.NotAfter.UTC().Format(time.RFC3339), e.RestartBy.UTC().Format(time.RFC3339), e.NotAfter.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrSignerExpiresBeforeRestart) hold.
func (e *SignerExpiryError) Is(target error) bool { return target == ErrSignerExpiresBeforeRestart }

// kubeletSignerNotAfter returns when the kube-apiserver-to-kubelet signer
// expires: the secret's CertificateNotAfterAnnotation, as the
// documentation's "oc -n openshift-kube-apiserver-operator get secret
// kube-apiserver-to-kubelet-signer -o jsonpath=..." reads it, or, when the
// annotation is missing or unparsable, the NotAfter of the first
// certificate in the secret's tls.crt. Errors wrap ErrSignerExpiryUnknown
// (and the API error, e.g. NotFound, when the secret could not be read).
func kubeletSignerNotAfter(ctx context.Context, kube kubernetes.Interface) (time.Time, error) {
	s, err := kube.CoreV1().Secrets(kubeletSignerNamespace).Get(ctx, kubeletSignerSecret, metav1.GetOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: reading %s/%s: %w", ErrSignerExpiryUnknown, kubeletSignerNamespace, kubeletSignerSecret, err)
	}
	return signerNotAfter(s)
}

func signerNotAfter(s *corev1.Secret) (time.Time, error) {
	var annErr error
	if v, ok := s.Annotations[certificateNotAfterAnnotation]; ok {
		t, err := time.Parse(time.RFC3339, v)
		if err == nil {
			return t, nil
		}
		annErr = fmt.Errorf("annotation %s=%q: %w", certificateNotAfterAnnotation, v, err)
	}
	rest := s.Data[corev1.TLSCertKey]
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %s/%s: %s: %w", ErrSignerExpiryUnknown, s.Namespace, s.Name, corev1.TLSCertKey, err)
		}
		return cert.NotAfter, nil
	}
	if annErr == nil {
		annErr = fmt.Errorf("no annotation %s and no certificate in %s", certificateNotAfterAnnotation, corev1.TLSCertKey)
	}
	return time.Time{}, fmt.Errorf("%w: %s/%s: %w", ErrSignerExpiryUnknown, s.Namespace, s.Name, annErr)
}

// checkSigner reads the signer's expiry into res and, when a restart date
// is planned, refuses a shutdown that outlasts it unless told to ignore it.
func checkSigner(ctx context.Context, kube kubernetes.Interface, opts ShutdownOptions, res *ShutdownResult) error {
	notAfter, err := kubeletSignerNotAfter(ctx, kube)
	if err != nil {
		if opts.PlannedDuration <= 0 || opts.IgnoreSignerExpiry {
			opts.Logger.Warn("could not read the kubelet signer's expiry", "err", err)
			return nil
		}
		return fmt.Errorf("shutdown planned for %s: %w", opts.PlannedDuration, err)
	}
	res.SignerNotAfter = notAfter
	if opts.PlannedDuration <= 0 {
		opts.Logger.Info("kubelet signer expiry (restart the cluster before it)", "notAfter", notAfter)
		return nil
	}
	restartBy := opts.Now().Add(opts.PlannedDuration)
	if !restartBy.Before(notAfter) {
		e := &SignerExpiryError{NotAfter: notAfter, RestartBy: restartBy}
		if opts.IgnoreSignerExpiry {
			opts.Logger.Warn("shutting down past the kubelet signer's expiry", "err", e)
			return nil
		}
		return e
	}
	opts.Logger.Info("kubelet signer outlasts the planned shutdown", "notAfter", notAfter, "restartBy", restartBy)
	return nil
}
