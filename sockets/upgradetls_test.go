package sockets_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// upgradeReady connects to srv with "starttls" and runs the plaintext part
// of starttlsServer's dialogue, up to the upgrade point.
func upgradeReady(t *testing.T, srv *sockettest.Server, ca *sockettest.CA) *sockets.Socket {
	t.Helper()
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
	if got := readN(t, s, 7); got != "HELLO\r\n" {
		t.Fatal(got)
	}
	if _, err := s.Write([]byte("STARTTLS\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, 4); got != "GO\r\n" {
		t.Fatal(got)
	}
	return s
}

// UpgradeTLS returns the new socket open, its handshake done, and the old
// one upgraded.
func TestUpgradeTLS(t *testing.T) {
	ca := newCA(t)
	s := upgradeReady(t, starttlsServer(t, ca), ca)
	ts, err := s.UpgradeTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "localhost", Context: ctxT(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if st := ts.ConnectionState(); !st.HandshakeComplete || st.ServerName != "localhost" {
		t.Fatalf("ConnectionState right after UpgradeTLS: HandshakeComplete %v, ServerName %q", st.HandshakeComplete, st.ServerName)
	}
	if !s.Upgraded() || s.Err() != nil || ts.SecureTransport() != sockets.SecureTransportOn {
		t.Fatalf("old socket Upgraded %v Err %v; new socket SecureTransport %q", s.Upgraded(), s.Err(), ts.SecureTransport())
	}
	if _, err := ts.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ts, 6); got != "PONG\r\n" {
		t.Fatal(got)
	}
}

// A certificate that does not cover the name fails UpgradeTLS itself, with
// the error Opened gives after StartTLS; the old socket has ended as
// upgraded and nothing is returned.
func TestUpgradeTLSWrongHostname(t *testing.T) {
	ca := newCA(t)
	s := upgradeReady(t, starttlsServer(t, ca), ca)
	ts, err := s.UpgradeTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "mail.example.com"})
	if ts != nil || err == nil || !strings.Contains(err.Error(), `not valid for "mail.example.com"`) {
		t.Fatalf("UpgradeTLS = %v, %v; want no socket and the certificate error", ts, err)
	}
	var se *sockets.SocketError
	if !errors.As(err, &se) {
		t.Fatalf("UpgradeTLS error %T, want a *SocketError", err)
	}
	if !s.Upgraded() {
		t.Fatal("the old socket is not marked upgraded after the handshake began")
	}
}

// Refused before it begins, UpgradeTLS leaves the socket as it was.
func TestUpgradeTLSMisuseLeavesSocket(t *testing.T) {
	s := connect(t, echo(t).Addr(), nil)
	defer s.Close()
	if ts, err := s.UpgradeTLS(nil); ts != nil || !errors.Is(err, sockets.ErrStartTLS) {
		t.Fatalf("UpgradeTLS on a plain socket = %v, %v; want ErrStartTLS", ts, err)
	}
	notClosed(t, s)
	if _, err := s.Write([]byte("still here")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, 10); got != "still here" {
		t.Fatal(got)
	}
}

// StartTLSOptions.Context bounds the handshake: a server that goes silent
// at the upgrade point fails UpgradeTLS with the context's error once it
// ends.
func TestUpgradeTLSContextBoundsHandshake(t *testing.T) {
	ca := newCA(t)
	release := make(chan struct{})
	defer close(release)
	srv := serve(t)(sockettest.NewScripted(
		sockettest.Send("HELLO\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("GO\r\n"),
		sockettest.Func(func(c net.Conn) error { <-release; return nil }),
	))
	s := upgradeReady(t, srv, ca)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	ts, err := s.UpgradeTLS(&sockets.StartTLSOptions{Context: ctx})
	if ts != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("UpgradeTLS against a silent server = %v, %v; want the context's deadline", ts, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("UpgradeTLS took %v to honour a 100 ms context", d)
	}
}

// UpgradeTLS runs the handshake in the caller and never queues it, so it
// leaves the starter's timer alone.
func TestUpgradeTLSArmsNoTimer(t *testing.T) {
	ca := newCA(t)
	s := upgradeReady(t, starttlsServer(t, ca), ca)
	sockets.WaitStarterQuiet(t)
	_, _, a0 := sockets.StarterState()
	ts, err := s.UpgradeTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if due, queued, a1 := sockets.StarterState(); due || queued != 0 || a1 != a0 {
		t.Fatalf("after UpgradeTLS: timer due %v, %d queued, armed %d times; want none of it", due, queued, a1-a0)
	}
	if _, err := ts.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ts, 6); got != "PONG\r\n" {
		t.Fatal(got)
	}
}
