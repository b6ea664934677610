package sockettest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"
)

// defaultHosts are the names a certificate covers when CertOptions.Hosts is
// empty or CA.ServerConfig is called without hosts.
var defaultHosts = []string{"localhost", "127.0.0.1", "::1"}

// caValidity is how long a CA made by NewCA stays valid.
const caValidity = 10 * 365 * 24 * time.Hour

// CA is a throwaway certificate authority with an ECDSA P-256 key, generated
// in memory by [NewCA]. Its methods are safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// CertOptions describes a leaf certificate for [CA.Issue].
type CertOptions struct {
	// Hosts are the DNS names and IP literals placed in the certificate's
	// subject alternative names. Empty means the loopback names
	// ("localhost", "127.0.0.1", "::1").
	Hosts []string

	// NotBefore and NotAfter bound the validity period. A zero NotBefore
	// means an hour ago and a zero NotAfter means 24 hours from now (or 24
	// hours after NotBefore if that is later). Set NotAfter in the past to
	// get an expired certificate.
	NotBefore, NotAfter time.Time

	// Client makes a client certificate (ExtKeyUsageClientAuth) instead of
	// a server certificate (ExtKeyUsageServerAuth).
	Client bool

	// CommonName is the subject common name. Empty means the first host.
	CommonName string
}

// NewCA generates a new certificate authority valid from an hour ago for ten
// years.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sockettest: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"sockettest"}, CommonName: "sockettest CA " + serial.Text(16)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sockettest: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("sockettest: parse CA certificate: %w", err)
	}
	return &CA{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// Certificate returns the CA's own certificate. It must not be modified.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a new certificate pool holding only the CA's certificate,
// suitable for tls.Config.RootCAs or tls.Config.ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// CertPEM returns the CA's certificate PEM-encoded.
func (ca *CA) CertPEM() []byte { return bytes.Clone(ca.certPEM) }

// WriteCertPEM writes the CA's PEM-encoded certificate to the file at path,
// for programs that take a CA file.
func (ca *CA) WriteCertPEM(path string) error {
	if err := os.WriteFile(path, ca.certPEM, 0o644); err != nil {
		return fmt.Errorf("sockettest: write CA certificate: %w", err)
	}
	return nil
}

// Issue creates a leaf certificate with a new ECDSA P-256 key, signed by the
// CA. The returned chain holds the leaf only (clients trust the CA itself),
// and Leaf is set.
func (ca *CA) Issue(opts CertOptions) (tls.Certificate, error) {
	hosts := opts.Hosts
	if len(hosts) == 0 {
		hosts = defaultHosts
	}
	var dnsNames []string
	var ips []net.IP
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if h == "" {
			return tls.Certificate{}, errors.New("sockettest: Issue: empty host")
		}
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, h)
		}
	}
	notBefore, notAfter, err := validity(opts.NotBefore, opts.NotAfter)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sockettest: generate key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	usage := x509.ExtKeyUsageServerAuth
	if opts.Client {
		usage = x509.ExtKeyUsageClientAuth
	}
	cn := opts.CommonName
	if cn == "" {
		cn = hosts[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"sockettest"}, CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sockettest: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("sockettest: parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerConfig returns a server tls.Config (minimum version TLS 1.2) whose
// certificate is a fresh leaf for hosts, or for "localhost", "127.0.0.1"
// and "::1" if none are given.
func (ca *CA) ServerConfig(hosts ...string) (*tls.Config, error) {
	cert, err := ca.Issue(CertOptions{Hosts: hosts})
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// ClientConfig returns a client tls.Config (minimum version TLS 1.2) that
// trusts only this CA. ServerName is left empty for the caller, or the socket
// layer, to set.
func (ca *CA) ClientConfig() *tls.Config {
	return &tls.Config{
		RootCAs:    ca.Pool(),
		MinVersion: tls.VersionTLS12,
	}
}

// validity applies the CertOptions defaults to a validity period.
func validity(notBefore, notAfter time.Time) (time.Time, time.Time, error) {
	now := time.Now()
	switch {
	case notBefore.IsZero() && notAfter.IsZero():
		notBefore, notAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
	case notBefore.IsZero():
		notBefore = now.Add(-time.Hour)
		if earlier := notAfter.Add(-24 * time.Hour); earlier.Before(notBefore) {
			notBefore = earlier
		}
	case notAfter.IsZero():
		notAfter = now.Add(24 * time.Hour)
		if later := notBefore.Add(24 * time.Hour); later.After(notAfter) {
			notAfter = later
		}
	}
	if notAfter.Before(notBefore) {
		return time.Time{}, time.Time{}, fmt.Errorf("sockettest: Issue: NotAfter %v is before NotBefore %v", notAfter, notBefore)
	}
	return notBefore, notAfter, nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("sockettest: generate serial number: %w", err)
	}
	return serial, nil
}
