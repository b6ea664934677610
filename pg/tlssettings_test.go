package pg_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// clientKeyFiles writes a self-signed RSA client certificate (common name
// cn) and its key to dir: the key in PKCS#1 PEM, plain and encrypted with
// password (the legacy PEM encryption, the only one pgx's sslpassword reads).
func clientKeyFiles(t *testing.T, cn, password string) (cert, key, encKey string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key, encKey = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key"), filepath.Join(dir, "client-enc.key")
	keyDER := x509.MarshalPKCS1PrivateKey(k)
	//lint:ignore SA1019 pgx's sslpassword reads only legacy encrypted PEM keys
	enc, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", keyDER, []byte(password), x509.PEMCipherAES256)
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string]*pem.Block{
		cert:   {Type: "CERTIFICATE", Bytes: der},
		key:    {Type: "RSA PRIVATE KEY", Bytes: keyDER},
		encKey: enc,
	} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return cert, key, encKey
}

// TestTLSSettings checks, against an in-process server that records each
// handshake, that the TLS settings of the connection string reach the
// server the same way whether pgx or the socket does TLS: SNI (sslsni, IP
// literal hosts), client certificates (sslcert, sslkey, sslpassword,
// sslcertmode) and sslrootcert, over the SSLRequest and over
// sslnegotiation=direct.
func TestTLSSettings(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteCertPEM(root); err != nil {
		t.Fatal(err)
	}
	other, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := filepath.Join(t.TempDir(), "other.pem")
	if err := other.WriteCertPEM(otherRoot); err != nil {
		t.Fatal(err)
	}
	cert, key, encKey := clientKeyFiles(t, "app-client", "s3cret")

	type want struct {
		sni, cn string
		err     string // substring of the connect error; "" means success
	}
	cases := []struct {
		name   string
		host   string
		params string
		want   want
	}{
		{"SNI by default", "db.internal", "sslmode=require", want{sni: "db.internal"}},
		{"sslsni=0 sends no SNI", "db.internal", "sslmode=require sslsni=0", want{}},
		{"sslsni=0 prefer", "db.internal", "sslmode=prefer sslsni=0", want{}},
		{"sslsni=0 verify-ca", "db.internal", "sslmode=verify-ca sslsni=0 sslrootcert=" + root, want{}},
		// pgx names the host for verify-full whatever sslsni says.
		{"sslsni=0 verify-full", "db.internal", "sslmode=verify-full sslsni=0 sslrootcert=" + root, want{sni: "db.internal"}},
		{"sslsni=0 direct", "db.internal", "sslnegotiation=direct sslmode=require sslsni=0", want{}},
		{"direct SNI by default", "db.internal", "sslnegotiation=direct sslmode=require", want{sni: "db.internal"}},
		{"IP literal host sends no SNI", "127.0.0.1", "sslmode=require", want{}},
		{"sslrootcert of another CA", "db.internal", "sslmode=verify-ca sslrootcert=" + otherRoot, want{err: "unknown authority"}},
		{"sslrootcert with require is verify-ca", "db.internal", "sslmode=require sslrootcert=" + otherRoot, want{err: "unknown authority"}},
		{"sslcert and sslkey", "db.internal", "sslmode=require sslcert=" + cert + " sslkey=" + key, want{sni: "db.internal", cn: "app-client"}},
		{"sslcertmode=disable sends none", "db.internal", "sslmode=require sslcertmode=disable sslcert=" + cert + " sslkey=" + key, want{sni: "db.internal"}},
		{"sslpassword decrypts sslkey", "db.internal", "sslmode=require sslpassword=s3cret sslcert=" + cert + " sslkey=" + encKey, want{sni: "db.internal", cn: "app-client"}},
		{"sslcert over direct", "db.internal", "sslnegotiation=direct sslmode=require sslsni=0 sslcert=" + cert + " sslkey=" + key, want{cn: "app-client"}},
	}
	for _, w := range ways {
		for _, tc := range cases {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				ctx := testCtx(t)
				scfg, err := ca.ServerConfig("db.internal")
				if err != nil {
					t.Fatal(err)
				}
				scfg.ClientAuth = tls.RequestClientCert
				direct := strings.Contains(tc.params, "sslnegotiation=direct")
				f := &fakePG{tls: scfg}
				var srv *sockettest.Server
				if direct {
					scfg.NextProtos = []string{"postgresql"}
					srv, err = sockettest.NewTLSServer(scfg, func(c net.Conn) { f.serve(c) })
				} else {
					srv, err = sockettest.NewServer(func(c net.Conn) { f.serve(c) })
				}
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				rec := &recorder{to: srv.Addr()}
				connString := fmt.Sprintf("host=%s port=5432 user=app %s", tc.host, tc.params)
				c, err := connectFake(ctx, connString, rec.options(w.socketTLS))
				if tc.want.err != "" {
					if err == nil {
						c.Close(ctx)
						t.Fatalf("connected; want an error containing %q", tc.want.err)
					}
					if !strings.Contains(err.Error(), tc.want.err) {
						t.Fatalf("error %q does not contain %q", err, tc.want.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				c.Close(ctx)
				srv.Close()
				s := f.sessions()
				if len(s) != 1 || !s[0].tls {
					t.Fatalf("sessions %+v; want one over TLS", s)
				}
				if s[0].sni != tc.want.sni || s[0].clientCN != tc.want.cn {
					t.Errorf("server saw SNI %q and client certificate %q; want %q and %q", s[0].sni, s[0].clientCN, tc.want.sni, tc.want.cn)
				}
			})
		}
	}
}

// TestDialerRefused: a Dialer whose settings cannot apply to pgx is refused
// by Configure with an error naming the fix, and the configuration is left
// as it was.
func TestDialerRefused(t *testing.T) {
	cases := []struct {
		name string
		d    *dialers.Dialer
		hint string
	}{
		{"SecureTransport on", &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportOn}}, "Options.SocketTLS"},
		{"SecureTransport starttls", &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS}}, "leave SecureTransport empty"},
		{"SecureTransport off", &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportOff}}, "leave SecureTransport empty"},
		{"TLSConfig", &dialers.Dialer{Options: &sockets.Options{TLSConfig: &tls.Config{}}}, "sslrootcert"},
		{"half-open both ways", &dialers.Dialer{NoHalfOpen: true, Options: &sockets.Options{AllowHalfOpen: true}}, "drop one of them"},
	}
	for _, w := range ways {
		for _, tc := range cases {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				cfg := parse(t, "host=db.internal user=app sslmode=require")
				before := cfg.DialFunc
				err := pg.Configure(cfg, &pg.Options{Dialer: tc.d, SocketTLS: w.socketTLS})
				if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.hint) {
					t.Fatalf("Configure = %v; want sockets.ErrInvalidOptions naming %q", err, tc.hint)
				}
				if fmt.Sprintf("%p", cfg.DialFunc) != fmt.Sprintf("%p", before) || cfg.TLSConfig == nil {
					t.Error("a refused Configure changed the configuration")
				}
			})
		}
	}
}

// TestUnixSocketHost: with no host, pgx picks a unix socket directory when
// one exists; outbound sockets are TCP, so Configure refuses it, naming the
// fix, instead of a dial failing with "network unix is not supported".
func TestUnixSocketHost(t *testing.T) {
	for _, connString := range []string{
		"host=/var/run/postgresql user=app",
		"host=127.0.0.1,/tmp user=app",
		"postgres://app@%2Fvar%2Frun%2Fpostgresql/app",
	} {
		t.Run(connString, func(t *testing.T) {
			for _, w := range ways {
				cfg := parse(t, connString)
				err := pg.Configure(cfg, &pg.Options{SocketTLS: w.socketTLS})
				if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), "host=127.0.0.1") || !strings.Contains(err.Error(), "unix socket") {
					t.Fatalf("%s: Configure = %v; want sockets.ErrInvalidOptions naming host=127.0.0.1", w.name, err)
				}
			}
		})
	}
	// With no host at all pgx picks /var/run/postgresql, /private/tmp or
	// /tmp, whichever exists (this is the case the issue names).
	t.Setenv("PGHOST", "")
	cfg := parse(t, "user=app")
	if !strings.HasPrefix(cfg.Host, "/") {
		t.Fatalf("pgx picked host %q with no host given; this test expects a unix socket directory", cfg.Host)
	}
	if err := pg.Configure(cfg, nil); !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), "host=127.0.0.1") {
		t.Fatalf("Configure with no host = %v; want the unix socket refused, naming host=127.0.0.1", err)
	}
	// pg.Connect reports the same, before dialling anything.
	dir := t.TempDir()
	_, err := pg.Connect(t.Context(), "host="+dir+" user=app", nil)
	if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), fmt.Sprintf("%q", dir)) {
		t.Fatalf("Connect = %v; want the unix socket refused, naming %q", err, dir)
	}
}

func parse(t *testing.T, connString string) *pgconn.Config {
	t.Helper()
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
