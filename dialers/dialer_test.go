package dialers_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/proxy"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var _ proxy.ContextDialer = (*dialers.Dialer)(nil)

func TestHTTPTransportThroughDialer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	defer srv.Close()
	var dialed []*sockets.Socket
	d := &dialers.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			dialed = append(dialed, c.(*sockets.Socket))
		}
		return c, err
	}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i := 0; i < 3; i++ {
		resp, err := client.Get(srv.URL + "/world")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello /world" {
			t.Fatalf("body = %q", b)
		}
	}
	if len(dialed) != 1 {
		t.Fatalf("dialed %d sockets, want 1 reused keep-alive connection", len(dialed))
	}
	if dialed[0].RemoteAddr().String() != srv.Listener.Addr().String() {
		t.Fatalf("RemoteAddr = %v", dialed[0].RemoteAddr())
	}
}

func TestHTTPSTransportThroughDialTLS(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := ca.ServerConfig()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secure "+r.Proto)
	}))
	srv.TLS = cfg
	srv.StartTLS()
	defer srv.Close()
	d := &dialers.Dialer{Options: &sockets.Options{TLSConfig: ca.ClientConfig()}}
	tr := &http.Transport{DialTLSContext: d.DialTLSContext}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// net/http reads the TLS state only from a *tls.Conn, so Response.TLS
	// stays nil with a custom DialTLSContext; the socket knows it.
	if string(b) != "secure HTTP/1.1" {
		t.Fatalf("body = %q", b)
	}

	// With TLS done by the transport over a plain socket (DialContext), the
	// transport negotiates HTTP/2 and fills Response.TLS.
	srv2 := httptest.NewUnstartedServer(srv.Config.Handler)
	srv2.EnableHTTP2 = true
	srv2.TLS = cfg.Clone()
	srv2.StartTLS()
	defer srv2.Close()
	tr2 := &http.Transport{DialContext: (&dialers.Dialer{}).DialContext, TLSClientConfig: ca.ClientConfig(), ForceAttemptHTTP2: true}
	defer tr2.CloseIdleConnections()
	resp, err = (&http.Client{Transport: tr2}).Get(srv2.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "secure HTTP/2.0" || resp.TLS == nil {
		t.Fatalf("body = %q, TLS = %v; want HTTP/2.0 over TLS", b, resp.TLS != nil)
	}
}

func TestDialErrorsSurfaceAtDialTime(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	d := &dialers.Dialer{}
	_, err := d.DialContext(context.Background(), "tcp", addr)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("DialContext to a closed port = %v, want ECONNREFUSED", err)
	}
	_, err = d.DialContext(context.Background(), "udp", addr)
	if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), `use "tcp"`) {
		t.Fatalf("udp = %v", err)
	}
	_, err = d.DialContext(context.Background(), "tcp", "smtp.example.com:25")
	if !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("port 25 = %v", err)
	}
	// A TLS failure surfaces at dial time, not on the first read.
	ca, _ := sockettest.NewCA()
	other, _ := sockettest.NewCA()
	cfg, _ := other.ServerConfig()
	srv, _ := sockettest.NewTLSEcho(cfg)
	defer srv.Close()
	td := &dialers.Dialer{Options: &sockets.Options{TLSConfig: ca.ClientConfig()}}
	if _, err := td.DialTLSContext(context.Background(), "tcp", srv.Addr()); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("DialTLSContext with the wrong CA = %v", err)
	}
}

func TestDialContextBoundsTheAttemptOnly(t *testing.T) {
	echo, _ := sockettest.NewEcho()
	defer echo.Close()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := (&dialers.Dialer{}).DialContext(ctx, "tcp", echo.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cancel()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("still open"))
	b := make([]byte, 10)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "still open" {
		t.Fatalf("after cancelling the dial ctx: %q, %v", b, err)
	}
}

func TestDialerDefaultsToHalfOpen(t *testing.T) {
	srv, _ := sockettest.NewScripted(sockettest.Send("x"), sockettest.CloseWrite(), sockettest.Expect("y"))
	defer srv.Close()
	s, err := (&dialers.Dialer{}).DialSocket(context.Background(), srv.Addr(), sockets.SecureTransportOff, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	io.ReadAll(s)
	if _, err := s.Write([]byte("y")); err != nil {
		t.Fatalf("write after the peer's EOF = %v; drivers expect a half-open net.Conn", err)
	}
	<-srv.Done()
	if errs := srv.Errs(); len(errs) > 0 {
		t.Fatal(errs)
	}
}
