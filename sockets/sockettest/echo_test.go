package sockettest_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestEchoRoundTrip(t *testing.T) {
	s := serve(t)(sockettest.NewEcho())
	c := dial(t, s)
	for _, msg := range []string{"hello", "world", strings.Repeat("x", 100<<10)} {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != msg {
			t.Fatalf("echo of %d bytes differs", len(msg))
		}
	}
	if s.Accepted() != 1 {
		t.Errorf("Accepted() = %d, want 1", s.Accepted())
	}
	c.Close()
	waitDone(t, s)
	noErrs(t, s)
}

func TestEchoHalfClose(t *testing.T) {
	s := serve(t)(sockettest.NewEcho())
	c := dial(t, s)
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// The write side is closed, yet the echo and then EOF still arrive.
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "ping" {
		t.Fatalf("got %q, want %q", got, "ping")
	}
	waitDone(t, s)
	noErrs(t, s)
}

func TestTLSEcho(t *testing.T) {
	ca := mustCA(t)
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t)(sockettest.NewTLSEcho(srvCfg))
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	tc := tls.Client(dial(t, s), cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tc, "secret"); err != nil {
		t.Fatal(err)
	}
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(tc)
	if err != nil {
		t.Fatalf("ReadAll: %v (want the echo then a clean close_notify EOF)", err)
	}
	if string(got) != "secret" {
		t.Fatalf("got %q, want %q", got, "secret")
	}
	waitDone(t, s)
	noErrs(t, s)
}

func TestTLSEchoWrongCA(t *testing.T) {
	ca, other := mustCA(t), mustCA(t)
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t)(sockettest.NewTLSEcho(srvCfg))
	cfg := other.ClientConfig()
	cfg.ServerName = "localhost"
	err = tls.Client(dial(t, s), cfg).Handshake()
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("handshake error = %v, want x509.UnknownAuthorityError", err)
	}
	// The server records its side of the failed handshake.
	errs := waitDone(t, s)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "TLS handshake") {
		t.Fatalf("Errs() = %v, want one TLS handshake error", errs)
	}
}

func TestTLSServerClientAuth(t *testing.T) {
	ca := mustCA(t)
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	srvCfg.ClientAuth = tls.RequireAndVerifyClientCert
	srvCfg.ClientCAs = ca.Pool()
	peer := make(chan string, 1)
	s := serve(t)(sockettest.NewTLSServer(srvCfg, func(c net.Conn) {
		state := c.(*tls.Conn).ConnectionState()
		peer <- state.PeerCertificates[0].Subject.CommonName
	}))
	clientCert, err := ca.Issue(sockettest.CertOptions{Client: true, CommonName: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ca.ClientConfig()
	cfg.ServerName = "127.0.0.1"
	cfg.Certificates = []tls.Certificate{clientCert}
	tc := tls.Client(dial(t, s), cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	select {
	case cn := <-peer:
		if cn != "alice" {
			t.Errorf("client certificate CN = %q, want alice", cn)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("handler not called")
	}
	waitDone(t, s)
	noErrs(t, s)
}

func TestTLSEchoBareTCPHalfClose(t *testing.T) {
	ca := mustCA(t)
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t)(sockettest.NewTLSEcho(srvCfg))
	raw := dial(t, s)
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	tc := tls.Client(raw, cfg)
	write(t, tc, "no close_notify")
	// End the stream with a TCP FIN only, as some peers do.
	if err := raw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(tc)
	if err != nil || string(got) != "no close_notify" {
		t.Fatalf("read %q, %v", got, err)
	}
	waitDone(t, s)
	noErrs(t, s)
}
