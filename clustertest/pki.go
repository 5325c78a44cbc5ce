package clustertest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/atomicfile"
)

// TLSFiles names the PEM files a TLS client or server is configured with: the
// CA bundle that verifies the peer, and this side's certificate and key.
type TLSFiles struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// PKI is a certificate authority for tests. It keeps its CA in Dir
// (ca.crt, ca.key) and writes the certificates it issues there as
// <name>.crt and <name>.key (keys mode 0600). Keys are ECDSA P-256.
//
// The simulation uses one PKI for everything that speaks TLS: etcd peer,
// server and client certificates, kube-apiserver serving and client
// certificates, and the kubelet certificates requested through CSRs
// (SignCSR). A PKI is safe for concurrent use.
type PKI struct {
	// Dir holds the CA and the issued files.
	Dir string

	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// CertOptions describe a certificate to issue.
type CertOptions struct {
	// CommonName is the subject CN; empty means the name passed to Issue.
	CommonName string
	// Organization is the subject O (Kubernetes reads it as groups).
	Organization []string
	// DNSNames and IPs are the subject alternative names.
	DNSNames []string
	IPs      []net.IP
	// Client and Server select the extended key usages. If neither is set the
	// certificate is good for both (what an etcd peer certificate needs).
	Client, Server bool
	// NotAfter is when the certificate expires; zero means one year from now.
	// A time in the past issues an already expired certificate.
	NotAfter time.Time
}

const (
	caCertName = "ca.crt"
	caKeyName  = "ca.key"
)

// NewPKI returns the PKI kept in dir, creating dir and a new CA if dir holds
// none yet. A dir that already holds ca.crt and ca.key is reused, so a
// simulation restarted on the same directory keeps trusting its old
// certificates.
func NewPKI(dir string) (*PKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("clustertest: creating PKI dir: %w", err)
	}
	p := &PKI{Dir: dir}
	certPath, keyPath := filepath.Join(dir, caCertName), filepath.Join(dir, caKeyName)
	if _, err := os.Stat(certPath); err == nil {
		if err := p.loadCA(certPath, keyPath); err != nil {
			return nil, err
		}
		return p, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("clustertest: generating CA key: %w", err)
	}
	now := time.Now()
	// A CN of its own makes "signed by unknown authority" errors name the CA.
	serial := randomSerial()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: fmt.Sprintf("lifeboat-clustertest-ca-%08x", serial.Uint64()&0xffffffff), Organization: []string{"lifeboat"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("clustertest: creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("clustertest: parsing CA certificate: %w", err)
	}
	p.caCert, p.caKey = cert, key
	if err := writeKey(keyPath, key); err != nil {
		return nil, err
	}
	if err := writePEM(certPath, "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *PKI) loadCA(certPath, keyPath string) error {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return fmt.Errorf("clustertest: reading CA certificate: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("clustertest: %s: no PEM certificate", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("clustertest: parsing %s: %w", certPath, err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return fmt.Errorf("clustertest: reading CA key: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "EC PRIVATE KEY" {
		return fmt.Errorf("clustertest: %s: no PEM EC private key", keyPath)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return fmt.Errorf("clustertest: parsing %s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return fmt.Errorf("clustertest: %s does not match %s", keyPath, certPath)
	}
	p.caCert, p.caKey = cert, key
	return nil
}

// CAFile is the path of the CA certificate (PEM).
func (p *PKI) CAFile() string { return filepath.Join(p.Dir, caCertName) }

// CA returns the CA certificate and its signer, for code that signs on its
// own (a simulated signer controller, a kubeconfig writer).
func (p *PKI) CA() (*x509.Certificate, crypto.Signer) { return p.caCert, p.caKey }

// CAPEM returns the CA certificate in PEM form.
func (p *PKI) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.caCert.Raw})
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Issue creates a key and a certificate signed by the CA and writes them to
// Dir/<name>.crt and Dir/<name>.key (0600), replacing earlier files of that
// name. name must be a plain file name (letters, digits, '.', '_', '-')
// other than "ca".
func (p *PKI) Issue(name string, o CertOptions) (TLSFiles, error) {
	if !validName.MatchString(name) || name == "ca" {
		return TLSFiles{}, fmt.Errorf("clustertest: invalid certificate name %q", name)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("clustertest: generating key for %s: %w", name, err)
	}
	cn := o.CommonName
	if cn == "" {
		cn = name
	}
	var usages []x509.ExtKeyUsage
	if o.Server || !o.Client {
		usages = append(usages, x509.ExtKeyUsageServerAuth)
	}
	if o.Client || !o.Server {
		usages = append(usages, x509.ExtKeyUsageClientAuth)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn, Organization: o.Organization},
		DNSNames:    o.DNSNames,
		IPAddresses: o.IPs,
		ExtKeyUsage: usages,
	}
	der, err := p.sign(tmpl, &key.PublicKey, o.NotAfter)
	if err != nil {
		return TLSFiles{}, fmt.Errorf("clustertest: issuing %s: %w", name, err)
	}
	files := TLSFiles{
		CAFile:   p.CAFile(),
		CertFile: filepath.Join(p.Dir, name+".crt"),
		KeyFile:  filepath.Join(p.Dir, name+".key"),
	}
	if err := writeKey(files.KeyFile, key); err != nil {
		return TLSFiles{}, err
	}
	if err := writePEM(files.CertFile, "CERTIFICATE", der, 0o644); err != nil {
		return TLSFiles{}, err
	}
	return files, nil
}

// SignCSR signs a PEM "CERTIFICATE REQUEST" the way a Kubernetes CSR signer
// does: subject and subject alternative names come from the request, the
// extended key usages from usages (nil means client auth), and the
// certificate expires at notAfter (zero: one year from now). It returns the
// PEM certificate. The request's signature is checked first.
func (p *PKI) SignCSR(csrPEM []byte, usages []x509.ExtKeyUsage, notAfter time.Time) ([]byte, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("clustertest: signing CSR: no PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("clustertest: signing CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("clustertest: signing CSR: %w", err)
	}
	if len(usages) == 0 {
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	tmpl := &x509.Certificate{
		Subject:        csr.Subject,
		DNSNames:       csr.DNSNames,
		IPAddresses:    csr.IPAddresses,
		EmailAddresses: csr.EmailAddresses,
		URIs:           csr.URIs,
		ExtKeyUsage:    usages,
	}
	der, err := p.sign(tmpl, csr.PublicKey, notAfter)
	if err != nil {
		return nil, fmt.Errorf("clustertest: signing CSR for %q: %w", csr.Subject.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// sign completes tmpl (serial, validity, key usage) and signs it with the CA.
func (p *PKI) sign(tmpl *x509.Certificate, pub crypto.PublicKey, notAfter time.Time) ([]byte, error) {
	now := time.Now()
	if notAfter.IsZero() {
		notAfter = now.AddDate(1, 0, 0)
	}
	notBefore := now.Add(-time.Minute)
	if !notBefore.Before(notAfter) {
		// An already expired certificate: valid for the hour before notAfter.
		notBefore = notAfter.Add(-time.Hour)
	}
	tmpl.SerialNumber = randomSerial()
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl.BasicConstraintsValid = true
	return x509.CreateCertificate(rand.Reader, tmpl, p.caCert, pub, p.caKey)
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("clustertest: encoding key %s: %w", path, err)
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, perm os.FileMode) error {
	data := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := atomicfile.WriteFile(path, bytes.NewReader(data), perm); err != nil {
		return fmt.Errorf("clustertest: writing %s: %w", path, err)
	}
	return nil
}
