package lifecycle

// Internals the external tests (package lifecycle_test) name.
const (
	KubeletSignerNamespace        = kubeletSignerNamespace
	KubeletSignerSecret           = kubeletSignerSecret
	CertificateNotAfterAnnotation = certificateNotAfterAnnotation
)
