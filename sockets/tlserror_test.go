package sockets_test

import (
	"strings"
	"testing"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// TestTLSHostnameErrorNamesServerName: a hostname mismatch names the server
// name that was checked (not the address dialled), and suggests
// ExpectedServerHostname only on a StartTLS socket.
func TestTLSHostnameErrorNamesServerName(t *testing.T) {
	ca := newCA(t)
	srv := serve(t)(sockettest.NewTLSEcho(serverTLS(t, ca, "good.example")))
	cfg := ca.ClientConfig()
	cfg.ServerName = "bad.example"
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: cfg})
	_, err := s.Opened(ctxT(t))
	if err == nil {
		t.Fatal("handshake with the wrong name succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, `certificate is not valid for "bad.example"`) || strings.Contains(msg, `not valid for "127.0.0.1`) {
		t.Fatalf("Opened = %v; want it to name the server name checked, \"bad.example\"", err)
	}
	if strings.Contains(msg, "ExpectedServerHostname") {
		t.Fatalf("Opened = %v; ExpectedServerHostname is a StartTLS option, not one for this socket", err)
	}
	if !strings.Contains(msg, "TLSConfig.ServerName") {
		t.Fatalf("Opened = %v; want the remedy TLSConfig.ServerName", err)
	}
}

func TestStartTLSHostnameErrorSuggestsExpectedServerHostname(t *testing.T) {
	ca := newCA(t)
	srv := starttlsServer(t, ca)
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
	readN(t, s, 7)
	s.Write([]byte("STARTTLS\r\n"))
	readN(t, s, 4)
	ts, err := s.StartTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "mail.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	_, err = ts.Opened(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), `not valid for "mail.example.com"`) || !strings.Contains(err.Error(), "StartTLSOptions.ExpectedServerHostname") {
		t.Fatalf("Opened = %v; want the name checked and the ExpectedServerHostname remedy", err)
	}
	if !strings.Contains(err.Error(), "TLS handshake with "+srv.Addr()) {
		t.Fatalf("Opened = %v; want the address in the message", err)
	}
}

// TestTLSToPlainPeer: a peer that does not speak TLS is reported as such,
// whether it writes plain text first or just hangs up.
func TestTLSToPlainPeer(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps []sockettest.Step
		want  string
	}{
		{"banner", []sockettest.Step{sockettest.Send("220 smtp.example ESMTP\r\n"), sockettest.Sleep(200e6)}, `the peer did not answer with TLS (its first bytes were "220 s")`},
		{"hang up", []sockettest.Step{sockettest.Discard(1), sockettest.CloseConn()}, "the peer closed the connection during the TLS handshake"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := serve(t)(sockettest.NewScripted(c.steps...))
			s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn})
			_, err := s.Opened(ctxT(t))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Opened = %v; want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "first record does not look like") {
				t.Fatalf("Opened = %v; crypto/tls's internal wording leaked", err)
			}
		})
	}
}
