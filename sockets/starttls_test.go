package sockets_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// starttlsServer speaks a tiny line protocol: the client says STARTTLS, the
// server answers "GO\r\n" and upgrades; then it echoes "PING" with "PONG".
func starttlsServer(t *testing.T, ca *sockettest.CA, extra ...sockettest.Step) *sockettest.Server {
	steps := []sockettest.Step{
		sockettest.Send("HELLO\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("GO\r\n"),
	}
	steps = append(steps, extra...)
	steps = append(steps, sockettest.StartTLS(serverTLS(t, ca)), sockettest.ExpectLine("PING"), sockettest.Send("PONG\r\n"))
	return serve(t)(sockettest.NewScripted(steps...))
}

func TestStartTLSUpgrade(t *testing.T) {
	ca := newCA(t)
	srv := starttlsServer(t, ca)
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
	if got := readN(t, s, 7); got != "HELLO\r\n" {
		t.Fatal(got)
	}
	s.Write([]byte("STARTTLS\r\n"))
	if got := readN(t, s, 4); got != "GO\r\n" {
		t.Fatal(got)
	}
	// A read in progress on the old socket when StartTLS is called fails.
	blocked := make(chan error, 1)
	go func() { _, err := s.Read(make([]byte, 1)); blocked <- err }()
	time.Sleep(20 * time.Millisecond)

	ts, err := s.StartTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	select {
	case err := <-blocked:
		if !errors.Is(err, sockets.ErrClosed) || !strings.Contains(err.Error(), "upgraded") {
			t.Fatalf("old reader after upgrade = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("old reader was not interrupted by StartTLS")
	}
	waitClosed(t, s)
	if s.Err() != nil || !s.Upgraded() {
		t.Fatalf("old socket: Err=%v Upgraded=%v", s.Err(), s.Upgraded())
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, sockets.ErrClosed) {
		t.Fatalf("old writer after upgrade = %v", err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, sockets.ErrClosed) {
		t.Fatalf("old reader after upgrade = %v", err)
	}
	if _, err := ts.Opened(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if ts.SecureTransport() != sockets.SecureTransportOn || ts.Upgraded() {
		t.Fatalf("new socket: SecureTransport=%q Upgraded=%v", ts.SecureTransport(), ts.Upgraded())
	}
	st := ts.ConnectionState()
	if !st.HandshakeComplete || st.ServerName != "localhost" {
		t.Fatalf("ConnectionState.ServerName = %q", st.ServerName)
	}
	ts.Write([]byte("PING\r\n"))
	if got := readN(t, ts, 6); got != "PONG\r\n" {
		t.Fatal(got)
	}
	<-srv.Done()
	if errs := srv.Errs(); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestStartTLSExpectedHostnameDefaultsToConnectHost(t *testing.T) {
	ca := newCA(t)
	srv := starttlsServer(t, ca)
	s := connect(t, "localhost:"+strings.Split(srv.Addr(), ":")[1], &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
	readN(t, s, 7)
	s.Write([]byte("STARTTLS\r\n"))
	readN(t, s, 4)
	ts, err := s.StartTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	opened(t, ts)
	st := ts.ConnectionState()
	if st.ServerName != "localhost" {
		t.Fatalf("ServerName = %q, want the connect hostname", st.ServerName)
	}
}

func TestStartTLSWrongHostname(t *testing.T) {
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
	if err == nil || !strings.Contains(err.Error(), `not valid for "mail.example.com"`) {
		t.Fatalf("Opened = %v", err)
	}
}

func TestStartTLSRefusesInjectedPlaintext(t *testing.T) {
	ca := newCA(t)
	// The peer sends its go-ahead and, in the same segment, bytes that a
	// careless client would read as if they came over TLS.
	srv := serve(t)(sockettest.NewScripted(
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("GO\r\nPONG\r\n"),
		sockettest.Sleep(200*time.Millisecond),
	))
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
	s.Write([]byte("STARTTLS\r\n"))
	if got := readN(t, s, 4); got != "GO\r\n" {
		t.Fatal(got)
	}
	time.Sleep(20 * time.Millisecond) // the injected bytes are in the kernel buffer
	ts, err := s.StartTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	_, err = ts.Opened(ctxT(t))
	if !errors.Is(err, sockets.ErrPlaintextInjection) {
		t.Fatalf("Opened = %v, want ErrPlaintextInjection", err)
	}
	if _, err := ts.Read(make([]byte, 6)); !errors.Is(err, sockets.ErrPlaintextInjection) {
		t.Fatalf("Read = %v: the injected bytes must never be handed on", err)
	}
}

func TestStartTLSMisuseInOrder(t *testing.T) {
	ca := newCA(t)
	srv := echo(t)
	tlsSrv := serve(t)(sockettest.NewTLSEcho(serverTLS(t, ca)))
	on := &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig()}
	starttls := &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()}
	check := func(name string, s *sockets.Socket, kind error, msg string) {
		t.Helper()
		_, err := s.StartTLS(nil)
		if !errors.Is(err, kind) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: StartTLS = %v, want %v mentioning %q", name, err, kind, msg)
		}
	}
	// 1. already TLS wins over closed.
	s := connect(t, tlsSrv.Addr(), on)
	s.Close()
	check("closed TLS socket", s, sockets.ErrStartTLS, "already uses TLS")
	// 2. closed wins over not-starttls.
	s = connect(t, srv.Addr(), nil)
	s.Close()
	check("closed plain socket", s, sockets.ErrClosed, "closed")
	// 3. not opened with starttls.
	s = connect(t, srv.Addr(), nil)
	check("plain socket", s, sockets.ErrStartTLS, `connect with SecureTransport "starttls"`)
	// 4. already called.
	s = connect(t, tlsSrv.Addr(), starttls)
	ts, err := s.StartTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	check("second call", s, sockets.ErrStartTLS, "already called")
	// And the upgraded socket is TLS.
	check("upgraded socket", ts, sockets.ErrStartTLS, "already uses TLS")
	opened(t, ts)
}

func TestStartTLSOnPendingSocket(t *testing.T) {
	ca := newCA(t)
	g := newGate()
	srv := serve(t)(sockettest.NewTLSEcho(serverTLS(t, ca)))
	s := connect(t, srv.Addr(), &sockets.Options{Dial: g.dial, SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
	<-g.started
	ts, err := s.StartTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	close(g.release)
	ts.Write([]byte("secure"))
	if got := readN(t, ts, 6); got != "secure" {
		t.Fatal(got)
	}
}

func TestStartTLSNewSocketClosedWhileOldPending(t *testing.T) {
	g := newGate()
	s := connect(t, echo(t).Addr(), &sockets.Options{Dial: g.dial, SecureTransport: sockets.SecureTransportStartTLS})
	<-g.started
	ts, err := s.StartTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.Close()
	_, err = ts.Opened(context.Background())
	if !errors.Is(err, sockets.ErrClosed) {
		t.Fatalf("Opened after Close = %v", err)
	}
	// goleak in TestMain proves the old dial and the handover goroutine end.
}

func TestTLSPeerCloseNotify(t *testing.T) {
	ca := newCA(t)
	srv := serve(t)(sockettest.NewTLSScripted(serverTLS(t, ca), sockettest.Send("bye"), sockettest.CloseWrite(), sockettest.ExpectEOF()))
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig()})
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "bye" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	waitClosed(t, s)
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	_ = tls.VersionTLS13
}
