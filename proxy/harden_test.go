package proxy_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// TestProxyTargetValidated: a proxy's DialContext, called directly,
// checks its target with Connect's rules before contacting the proxy: no
// CR, LF or NUL reaches a CONNECT request line or a SOCKS5 request.
func TestProxyTargetValidated(t *testing.T) {
	var dials atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("the proxy was contacted")
	}
	bad := []string{
		"allowed.example\r\nX-Injected: yes\r\n\r\nCONNECT 127.0.0.1:22 HTTP/1.1:443",
		"allowed.example:443\r\nX-Injected: yes",
		"a\x00b.example:80",
		"a\rb.example:80",
		"exa mple.example:80",
		"example.com:0443",
		"example.com:0",
		"127.1:80",
		"[fe80::1%eth0]:80",
		"example.com",
	}
	for _, px := range []interface {
		DialContext(context.Context, string, string) (net.Conn, error)
	}{&proxy.HTTP{Addr: "127.0.0.1:1", Dial: dial}, &proxy.SOCKS5{Addr: "127.0.0.1:1", Dial: dial}} {
		for _, target := range bad {
			_, err := px.DialContext(ctxT(t), "tcp", target)
			if !errors.Is(err, sockets.ErrInvalidAddress) {
				t.Errorf("%T.DialContext(%q) = %v; want ErrInvalidAddress", px, target, err)
			}
		}
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("the proxy was contacted %d times for invalid targets", n)
	}
}

// socksRequest is the length of the SOCKS5 CONNECT request for a name.
func socksRequest(host string) int { return 4 + 1 + len(host) + 2 }

// TestSOCKS5ReplyVersionChecked: a CONNECT reply whose VER is not 5 is
// refused, not taken for success.
func TestSOCKS5ReplyVersionChecked(t *testing.T) {
	srv := serve(t)(sockettest.NewScripted(
		sockettest.Discard(3), sockettest.Send("\x05\x00"),
		sockettest.Discard(socksRequest("example.com")),
		sockettest.Send("\x04\x00\x00\x01\x00\x00\x00\x00\x00\x00"),
		sockettest.Sleep(time.Second),
	))
	_, err := (&proxy.SOCKS5{Addr: srv.Addr()}).DialContext(ctxT(t), "tcp", "example.com:80")
	if err == nil || !strings.Contains(err.Error(), "version byte 4, not 5") {
		t.Fatalf("DialContext = %v; want the reply's version refused", err)
	}
}

// TestHTTPProxyHeadersTooLarge: a CONNECT response whose headers exceed
// 64 KiB fails with a message that says so, not io.EOF.
func TestHTTPProxyHeadersTooLarge(t *testing.T) {
	req := "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n"
	for name, resp := range map[string]string{
		"one long header": "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 70<<10) + "\r\n\r\n",
		"many headers":    "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", 10<<10) + "\r\n",
		"long status":     "HTTP/1.1 200 " + strings.Repeat("O", 70<<10) + "\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			srv := serve(t)(sockettest.NewScripted(sockettest.Discard(len(req)), sockettest.Send(resp), sockettest.Sleep(time.Second)))
			_, err := (&proxy.HTTP{Addr: srv.Addr()}).DialContext(ctxT(t), "tcp", "example.com:80")
			if err == nil || !strings.Contains(err.Error(), "the proxy's response headers are too large") {
				t.Fatalf("DialContext = %v; want the headers refused as too large", err)
			}
		})
	}
}

// TestStartTLSAfterProxyInjection: plaintext that arrived with an HTTP
// proxy's 200 (held by the proxy's connection, not the kernel) is seen by
// StartTLS and refused with ErrPlaintextInjection.
func TestStartTLSAfterProxyInjection(t *testing.T) {
	req := "CONNECT mail.example:587 HTTP/1.1\r\nHost: mail.example:587\r\n\r\n"
	srv := serve(t)(sockettest.NewScripted(sockettest.Discard(len(req)), sockettest.Send("HTTP/1.1 200 OK\r\n\r\n220 ready, injected: EHLO evil\r\n"), sockettest.Sleep(2*time.Second)))
	s := connect(t, "mail.example:587", &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, Proxy: &proxy.HTTP{Addr: srv.Addr()}})
	opened(t, s)
	ts, err := s.StartTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if _, err := ts.Opened(ctxT(t)); !errors.Is(err, sockets.ErrPlaintextInjection) {
		t.Fatalf("Opened after StartTLS = %v; want ErrPlaintextInjection", err)
	}
}

// TestNilProxies: a nil *SOCKS5 or *HTTP fails instead of panicking, when
// called directly and (refused at once) through Connect.
func TestNilProxies(t *testing.T) {
	for _, px := range []sockets.Proxy{(*proxy.SOCKS5)(nil), (*proxy.HTTP)(nil)} {
		dial, err := px.ProxyFor(sockets.Address{Hostname: "example.com", Port: 80})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dial(ctxT(t), "tcp", "example.com:80"); !errors.Is(err, sockets.ErrInvalidOptions) {
			t.Errorf("%T DialContext = %v; want ErrInvalidOptions", px, err)
		}
		if _, err := sockets.Connect(ctxT(t), "example.com:80", &sockets.Options{Proxy: px}); !errors.Is(err, sockets.ErrInvalidOptions) {
			t.Errorf("Connect with a %T = %v; want ErrInvalidOptions", px, err)
		}
	}
}
