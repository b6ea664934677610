package sockettest_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestExpiredCertFails(t *testing.T) {
	ca := mustCA(t)
	cert, err := ca.Issue(sockettest.CertOptions{NotAfter: time.Now().Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t)(sockettest.NewTLSEcho(&tls.Config{Certificates: []tls.Certificate{cert}}))
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	err = tls.Client(dial(t, s), cfg).Handshake()
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Fatalf("handshake error = %v, want x509.CertificateInvalidError with reason Expired", err)
	}
}

func TestIssueIPSAN(t *testing.T) {
	ca := mustCA(t)
	cert, err := ca.Issue(sockettest.CertOptions{Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 1 {
		t.Errorf("chain has %d certificates, want the leaf only", len(cert.Certificate))
	}
	opts := x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1"}
	if _, err := cert.Leaf.Verify(opts); err != nil {
		t.Fatalf("verify for 127.0.0.1: %v", err)
	}
	opts.DNSName = "localhost"
	var hostErr x509.HostnameError
	if _, err := cert.Leaf.Verify(opts); !errors.As(err, &hostErr) {
		t.Fatalf("verify for localhost = %v, want x509.HostnameError", err)
	}

	// The same over a real handshake, with an IP as ServerName.
	s := serve(t)(sockettest.NewTLSEcho(&tls.Config{Certificates: []tls.Certificate{cert}}))
	cfg := ca.ClientConfig()
	cfg.ServerName = s.Host()
	tc := tls.Client(dial(t, s), cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	waitDone(t, s)
	noErrs(t, s)
}

func TestIssueDefaultsAndClient(t *testing.T) {
	ca := mustCA(t)
	cert, err := ca.Issue(sockettest.CertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		_, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: host})
		if err != nil {
			t.Errorf("default certificate for %s: %v", host, err)
		}
	}
	client, err := ca.Issue(sockettest.CertOptions{Client: true})
	if err != nil {
		t.Fatal(err)
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: usage}); err != nil {
		t.Errorf("client certificate for client auth: %v", err)
	}
	if _, err := client.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err == nil {
		t.Error("client certificate verified for server auth")
	}
	_, err = ca.Issue(sockettest.CertOptions{NotBefore: time.Now(), NotAfter: time.Now().Add(-time.Hour)})
	if err == nil {
		t.Error("Issue accepted NotAfter before NotBefore")
	}
}

func TestWriteCertPEM(t *testing.T) {
	ca := mustCA(t)
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteCertPEM(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(ca.CertPEM()) {
		t.Error("file differs from CertPEM()")
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("no CERTIFICATE block in %q", data)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.IsCA || !cert.Equal(ca.Certificate()) {
		t.Error("written certificate is not the CA")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.CertPEM()) {
		t.Error("CertPEM not accepted by AppendCertsFromPEM")
	}
}
