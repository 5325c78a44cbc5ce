package clustertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseCertPEM(t, data)
}

func parseCertPEM(t *testing.T, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("no PEM certificate in %q", data)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caPool(p *PKI) *x509.CertPool {
	pool := x509.NewCertPool()
	ca, _ := p.CA()
	pool.AddCert(ca)
	return pool
}

func TestPKIIssue(t *testing.T) {
	p, err := NewPKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	ca, signer := p.CA()
	if !ca.IsCA || signer == nil || p.CAFile() != filepath.Join(p.Dir, "ca.crt") {
		t.Fatalf("bad CA: IsCA=%v signer=%v file=%s", ca.IsCA, signer, p.CAFile())
	}
	if fi, err := os.Stat(filepath.Join(p.Dir, "ca.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode: %v %v", fi, err)
	}
	expiredAt := time.Now().Add(-time.Hour).Truncate(time.Second)
	tests := []struct {
		name      string
		opts      CertOptions
		wantCN    string
		wantUsage []x509.ExtKeyUsage
		expired   bool
	}{
		{
			name:      "server",
			opts:      CertOptions{Server: true, DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}},
			wantCN:    "server",
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			name:      "client",
			opts:      CertOptions{Client: true, CommonName: "system:admin", Organization: []string{"system:masters"}},
			wantCN:    "system:admin",
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
		{
			name:      "peer",
			opts:      CertOptions{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}},
			wantCN:    "peer",
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
		{
			name:      "expired",
			opts:      CertOptions{Client: true, NotAfter: expiredAt},
			wantCN:    "expired",
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			expired:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := p.Issue(tt.name, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if files.CAFile != p.CAFile() {
				t.Errorf("CAFile = %s", files.CAFile)
			}
			if fi, err := os.Stat(files.KeyFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key mode: %v %v", fi, err)
			}
			if _, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile); err != nil {
				t.Errorf("key pair: %v", err)
			}
			c := readCert(t, files.CertFile)
			if c.Subject.CommonName != tt.wantCN || !slices.Equal(c.Subject.Organization, tt.opts.Organization) {
				t.Errorf("subject = %v", c.Subject)
			}
			if !slices.Equal(c.ExtKeyUsage, tt.wantUsage) {
				t.Errorf("ExtKeyUsage = %v, want %v", c.ExtKeyUsage, tt.wantUsage)
			}
			if c.IsCA {
				t.Error("leaf is a CA")
			}
			if !slices.Equal(c.DNSNames, tt.opts.DNSNames) || len(c.IPAddresses) != len(tt.opts.IPs) {
				t.Errorf("SANs = %v %v", c.DNSNames, c.IPAddresses)
			}
			_, err = c.Verify(x509.VerifyOptions{Roots: caPool(p), KeyUsages: tt.wantUsage})
			if tt.expired {
				if !c.NotAfter.Equal(expiredAt) || err == nil {
					t.Errorf("NotAfter = %v (want %v), verify err = %v", c.NotAfter, expiredAt, err)
				}
				if !c.NotBefore.Before(c.NotAfter) {
					t.Errorf("NotBefore %v not before NotAfter %v", c.NotBefore, c.NotAfter)
				}
			} else if err != nil {
				t.Errorf("verify: %v", err)
			}
		})
	}

	for _, bad := range []string{"", "ca", "../x", "a/b", ".hidden"} {
		if _, err := p.Issue(bad, CertOptions{}); err == nil {
			t.Errorf("Issue(%q) succeeded", bad)
		}
	}
}

func TestPKIReusesCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	p1, err := NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := NewPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := p1.CA()
	c2, _ := p2.CA()
	if !c1.Equal(c2) {
		t.Fatal("second NewPKI on the same dir made a new CA")
	}
	// A certificate issued by the reloaded PKI verifies against the first CA.
	files, err := p2.Issue("x", CertOptions{Client: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readCert(t, files.CertFile).Verify(x509.VerifyOptions{Roots: caPool(p1), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	other, err := NewPKI(filepath.Join(t.TempDir(), "other"))
	if err != nil {
		t.Fatal(err)
	}
	if c3, _ := other.CA(); c3.Subject.CommonName == c1.Subject.CommonName {
		t.Errorf("two CAs share the CN %q", c1.Subject.CommonName)
	}
}

func newCSR(t *testing.T, subject pkix.Name, dns []string, ips []net.IP) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: dns, IPAddresses: ips}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestPKISignCSR(t *testing.T) {
	p, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	node := pkix.Name{CommonName: "system:node:master-0", Organization: []string{"system:nodes"}}
	notAfter := time.Now().Add(48 * time.Hour).Truncate(time.Second)

	t.Run("kubelet serving", func(t *testing.T) {
		csr := newCSR(t, node, []string{"master-0"}, []net.IP{net.ParseIP("10.0.0.3")})
		out, err := p.SignCSR(csr, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, notAfter)
		if err != nil {
			t.Fatal(err)
		}
		c := parseCertPEM(t, out)
		if c.Subject.CommonName != node.CommonName || !slices.Equal(c.Subject.Organization, node.Organization) {
			t.Errorf("subject = %v", c.Subject)
		}
		if !slices.Equal(c.DNSNames, []string{"master-0"}) || len(c.IPAddresses) != 1 || !c.IPAddresses[0].Equal(net.ParseIP("10.0.0.3")) {
			t.Errorf("SANs = %v %v", c.DNSNames, c.IPAddresses)
		}
		if !c.NotAfter.Equal(notAfter) {
			t.Errorf("NotAfter = %v, want %v", c.NotAfter, notAfter)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: caPool(p), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Error(err)
		}
	})
	t.Run("default usage is client", func(t *testing.T) {
		out, err := p.SignCSR(newCSR(t, node, nil, nil), nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		c := parseCertPEM(t, out)
		if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("ExtKeyUsage = %v", c.ExtKeyUsage)
		}
		if d := time.Until(c.NotAfter); d < 360*24*time.Hour {
			t.Errorf("default validity ends in %v", d)
		}
	})

	good := newCSR(t, node, nil, nil)
	block, _ := pem.Decode(good)
	tampered := slices.Clone(block.Bytes)
	tampered[len(tampered)-5] ^= 0xff // inside the signature
	tests := []struct {
		name, csr, want string
	}{
		{"empty", "", "no PEM CERTIFICATE REQUEST"},
		{"certificate not request", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})), "no PEM CERTIFICATE REQUEST"},
		{"garbage", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte("junk")})), "signing CSR"},
		{"bad signature", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})), "signing CSR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := p.SignCSR([]byte(tt.csr), nil, time.Time{}); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestPKIMutualTLS checks that a server and a client certificate from the
// PKI complete a handshake that verifies both sides.
func TestPKIMutualTLS(t *testing.T) {
	p, err := NewPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srvFiles, err := p.Issue("srv", CertOptions{Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	cliFiles, err := p.Issue("cli", CertOptions{Client: true, CommonName: "root"})
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := tls.LoadX509KeyPair(srvFiles.CertFile, srvFiles.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert}, ClientCAs: caPool(p), ClientAuth: tls.RequireAndVerifyClientCert,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peerCN := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			peerCN <- err.Error()
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			peerCN <- err.Error()
			return
		}
		peerCN <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
		io.WriteString(c, "ok")
	}()
	tc, err := tlsConfig(cliFiles)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", l.Addr().String(), tc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ok" {
		t.Fatalf("read %q: %v", buf, err)
	}
	if cn := <-peerCN; cn != "root" {
		t.Fatalf("server saw client %q", cn)
	}
}
