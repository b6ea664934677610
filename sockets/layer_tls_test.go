package sockets_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// tlsTapLayer records raw bytes below TLS, the configuration its
// HandshakeTLS saw, and (through its plaintext wrap) the plaintext.
type tlsTapLayer struct {
	name  string
	order *[]string // plaintext wrap order, outermost last called first

	mu         sync.Mutex
	conns      []net.Conn // what Dial returned
	handshakes int
	hookConn   net.Conn // the conn HandshakeTLS was given
	serverName string
	keylog     bytes.Buffer
	raw        bytes.Buffer // bytes written below TLS
	plainOut   bytes.Buffer // plaintext written
	plainIn    bytes.Buffer // plaintext read
	wrapped    int
}

func (l *tlsTapLayer) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	c, err := next(ctx)
	if err != nil {
		return nil, err
	}
	rc := &rawTap{Conn: c, l: l}
	l.mu.Lock()
	l.conns = append(l.conns, rc)
	l.mu.Unlock()
	return rc, nil
}

func (l *tlsTapLayer) HandshakeTLS(conn net.Conn, cfg *tls.Config) func(net.Conn) net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handshakes++
	l.hookConn = conn
	l.serverName = cfg.ServerName
	cfg.KeyLogWriter = lockedWriter{&l.mu, &l.keylog}
	return func(plain net.Conn) net.Conn {
		l.mu.Lock()
		l.wrapped++
		l.mu.Unlock()
		if l.order != nil {
			*l.order = append(*l.order, l.name)
		}
		return &plainTap{Conn: plain, l: l}
	}
}

func (l *tlsTapLayer) snapshot(b *bytes.Buffer) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return b.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

// KeyLogWriter is called during the handshake, outside HandshakeTLS: lock.
func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

type rawTap struct {
	net.Conn
	l *tlsTapLayer
}

func (c *rawTap) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.l.mu.Lock()
	c.l.raw.Write(b[:n])
	c.l.mu.Unlock()
	return n, err
}

type plainTap struct {
	net.Conn
	l *tlsTapLayer
}

func (c *plainTap) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.l.mu.Lock()
	c.l.plainOut.Write(b[:n])
	c.l.mu.Unlock()
	return n, err
}

func (c *plainTap) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.l.mu.Lock()
	c.l.plainIn.Write(b[:n])
	c.l.mu.Unlock()
	return n, err
}

// checkTap checks what a TLSLayer saw of one TLS session that wrote
// "PING\r\n" and read "PONG\r\n".
func checkTap(t *testing.T, l *tlsTapLayer, caller *tls.Config, serverName string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handshakes != 1 || l.wrapped != 1 {
		t.Fatalf("HandshakeTLS called %d times, wrap %d times; want 1 and 1", l.handshakes, l.wrapped)
	}
	if len(l.conns) != 1 || l.hookConn != l.conns[0] {
		t.Fatalf("HandshakeTLS got %v, want the connection Dial returned (%v)", l.hookConn, l.conns)
	}
	if l.serverName != serverName {
		t.Errorf("HandshakeTLS saw ServerName %q, want the socket's own clone with %q", l.serverName, serverName)
	}
	if caller.KeyLogWriter != nil || caller.ServerName != "" {
		t.Error("the caller's tls.Config was modified")
	}
	if !strings.Contains(l.keylog.String(), "TRAFFIC_SECRET_0 ") {
		t.Errorf("the KeyLogWriter set by HandshakeTLS got %q, want TLS 1.3 secrets", l.keylog.String())
	}
	if !strings.HasSuffix(l.plainOut.String(), "PING\r\n") || !strings.HasPrefix(l.plainIn.String(), "PONG\r\n") {
		t.Errorf("plaintext view: wrote %q, read %q", l.plainOut.String(), l.plainIn.String())
	}
	if i := bytes.Index(l.raw.Bytes(), []byte("\x16\x03")); i < 0 {
		t.Errorf("the raw view shows no TLS handshake record: %q", l.raw.Bytes())
	} else if bytes.Contains(l.raw.Bytes()[i:], []byte("PING")) {
		t.Error("the raw view shows the plaintext after the handshake began")
	}
}

// tlsPingServer answers "PING" with "PONG" over TLS.
func tlsPingServer(t *testing.T, ca *sockettest.CA) (*sockettest.Server, error) {
	return sockettest.NewTLSScripted(serverTLS(t, ca), sockettest.ExpectLine("PING"), sockettest.Send("PONG\r\n"))
}

func TestTLSLayerOn(t *testing.T) {
	ca := newCA(t)
	srv := serve(t)(tlsPingServer(t, ca))
	l := &tlsTapLayer{}
	caller := ca.ClientConfig()
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: caller, Layers: []sockets.Layer{l}})
	if _, err := s.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, 6); got != "PONG\r\n" {
		t.Fatal(got)
	}
	checkTap(t, l, caller, "127.0.0.1")
	// The socket still reports the TLS state through the wrap.
	if st := s.ConnectionState(); !st.HandshakeComplete {
		t.Error("ConnectionState through a TLSLayer: handshake not complete")
	}
	// Close goes through the plaintext wrap to the connection.
	s.Close()
	if _, err := l.conns[0].Write([]byte("x")); err == nil {
		t.Error("the raw connection is still open after Close")
	}
}

func TestTLSLayerStartTLS(t *testing.T) {
	ca := newCA(t)
	srv := starttlsServer(t, ca)
	l := &tlsTapLayer{}
	caller := ca.ClientConfig()
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: caller, Layers: []sockets.Layer{l}})
	if got := readN(t, s, 7); got != "HELLO\r\n" {
		t.Fatal(got)
	}
	s.Write([]byte("STARTTLS\r\n"))
	if got := readN(t, s, 4); got != "GO\r\n" {
		t.Fatal(got)
	}
	l.mu.Lock()
	if l.handshakes != 0 {
		t.Error("HandshakeTLS ran before StartTLS")
	}
	l.mu.Unlock()
	ts, err := s.StartTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	ts.Write([]byte("PING\r\n"))
	if got := readN(t, ts, 6); got != "PONG\r\n" {
		t.Fatal(got)
	}
	checkTap(t, l, caller, "localhost")
	if raw := l.snapshot(&l.raw); !strings.HasPrefix(raw, "STARTTLS\r\n\x16\x03") {
		t.Errorf("raw view = %q..., want the plaintext command, then the handshake", raw[:min(len(raw), 16)])
	}
}

func TestTLSLayersWrapInOrder(t *testing.T) {
	ca := newCA(t)
	srv := serve(t)(tlsPingServer(t, ca))
	var order []string
	outer := &tlsTapLayer{name: "outer", order: &order}
	inner := &tlsTapLayer{name: "inner", order: &order}
	plain := &countLayer{name: "plain", order: new([]string)} // not a TLSLayer: left alone
	s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig(),
		Layers: []sockets.Layer{outer, plain, inner}})
	s.Write([]byte("PING\r\n"))
	if got := readN(t, s, 6); got != "PONG\r\n" {
		t.Fatal(got)
	}
	// inner wraps the plaintext first, so outer's wrap is outermost.
	if strings.Join(order, ",") != "inner,outer" {
		t.Fatalf("wraps ran in order %v, want inner,outer", order)
	}
	for _, l := range []*tlsTapLayer{outer, inner} {
		if got := l.snapshot(&l.plainOut); got != "PING\r\n" {
			t.Errorf("%s saw plaintext %q", l.name, got)
		}
	}
	// Each layer got the connection its own Dial returned.
	if outer.hookConn != outer.conns[0] || inner.hookConn != inner.conns[0] || outer.hookConn == inner.hookConn {
		t.Error("a TLSLayer was handed another layer's connection")
	}
}

func TestTLSLayerPlainSocket(t *testing.T) {
	srv := echo(t)
	l := &tlsTapLayer{}
	s := connect(t, srv.Addr(), &sockets.Options{Layers: []sockets.Layer{l}})
	s.Write([]byte("hi"))
	if got := readN(t, s, 2); got != "hi" {
		t.Fatal(got)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handshakes != 0 || l.raw.String() != "hi" {
		t.Fatalf("plain socket: %d handshakes, raw %q", l.handshakes, l.raw.String())
	}
}

func TestTLSLayerHandshakeFails(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	srv := serve(t)(tlsPingServer(t, ca))
	l := &tlsTapLayer{}
	_, err := sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: other.ClientConfig(), Layers: []sockets.Layer{l}})
	if err == nil {
		t.Fatal("Dial trusted the wrong CA")
	}
	l.mu.Lock()
	handshakes, wrapped, raw := l.handshakes, l.wrapped, l.conns[0]
	l.mu.Unlock()
	if handshakes != 1 || wrapped != 0 {
		t.Fatalf("failed handshake: HandshakeTLS %d, wrap %d; want 1 and 0", handshakes, wrapped)
	}
	if _, err := raw.Write([]byte("x")); err == nil {
		t.Error("the connection of a failed handshake is still open")
	}
}
