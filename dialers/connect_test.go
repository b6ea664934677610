package dialers_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// TestConnectDoesNotWait: Dialer.Connect has sockets.Connect's meaning (it
// returns before the connection is open, errors surface in Opened), while
// DialSocket waits and returns the connect error itself.
func TestConnectDoesNotWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	release := make(chan struct{})
	d := &dialers.Dialer{Options: &sockets.Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := d.Connect(ctx, ln.Addr().String(), sockets.SecureTransportOff, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-s.Closed():
		t.Fatal("socket closed before its connection was made")
	default:
	}
	close(release) // Connect returned while the dial was still held
	if _, err := s.Opened(ctx); err != nil {
		t.Fatalf("Opened = %v", err)
	}

	// A refused connect: Connect returns a socket, Opened the error;
	// DialSocket returns the error.
	addr := ln.Addr().String()
	ln.Close()
	s2, err := (&dialers.Dialer{}).Connect(ctx, addr, sockets.SecureTransportOff, nil)
	if err != nil {
		t.Fatalf("Connect = %v; want the error in Opened", err)
	}
	if _, err := s2.Opened(ctx); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Opened = %v; want connection refused", err)
	}
	if _, err := (&dialers.Dialer{}).DialSocket(ctx, addr, sockets.SecureTransportOff, nil); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("DialSocket = %v; want connection refused", err)
	}
}

// TestDialSocketTLSConfig: DialSocket's tlsConfig replaces Options.TLSConfig
// for "on", and is refused with "off".
func TestDialSocketTLSConfig(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sockettest.NewTLSEcho(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	other, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	d := &dialers.Dialer{Options: &sockets.Options{TLSConfig: other.ClientConfig()}}
	if _, err := d.DialSocket(ctx, srv.Addr(), sockets.SecureTransportOn, nil); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("DialSocket with the Dialer's other roots = %v; want unknown authority", err)
	}
	s, err := d.DialSocket(ctx, srv.Addr(), sockets.SecureTransportOn, ca.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("hi"))
	b := make([]byte, 2)
	if _, err := io.ReadFull(s, b); err != nil || string(b) != "hi" {
		t.Fatalf("echo %q, %v", b, err)
	}
	s.Close()
	for _, f := range []func() error{
		func() error {
			_, err := d.DialSocket(ctx, srv.Addr(), sockets.SecureTransportOff, &tls.Config{})
			return err
		},
		func() error {
			_, err := d.Connect(ctx, srv.Addr(), sockets.SecureTransportOff, &tls.Config{})
			return err
		},
	} {
		if err := f(); !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), "pass nil") {
			t.Errorf("TLS config with \"off\" = %v; want ErrInvalidOptions", err)
		}
	}
}

// TestDialerRefusesSettings: settings no dial could honour are refused by
// every method, never ignored.
func TestDialerRefusesSettings(t *testing.T) {
	srv, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cases := []struct {
		name string
		d    *dialers.Dialer
		hint string
	}{
		{"SecureTransport on", &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportOn}}, "leave it empty"},
		{"SecureTransport off", &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportOff}}, "leave it empty"},
		{"half-open both ways", &dialers.Dialer{NoHalfOpen: true, Options: &sockets.Options{AllowHalfOpen: true}}, "drop one of them"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.hint) {
					t.Errorf("%s = %v; want ErrInvalidOptions naming %q", what, err, tc.hint)
				}
			}
			check("Validate", tc.d.Validate())
			_, err := tc.d.DialContext(ctx, "tcp", srv.Addr())
			check("DialContext", err)
			_, err = tc.d.DialTLSContext(ctx, "tcp", srv.Addr())
			check("DialTLSContext", err)
			_, err = tc.d.DialSocket(ctx, srv.Addr(), sockets.SecureTransportOff, nil)
			check("DialSocket", err)
			_, err = tc.d.Connect(ctx, srv.Addr(), sockets.SecureTransportOff, nil)
			check("Connect", err)
		})
	}
	var nilDialer *dialers.Dialer
	if err := nilDialer.Validate(); err != nil {
		t.Errorf("nil Dialer: Validate = %v", err)
	}
	_, err = (&dialers.Dialer{}).DialContext(ctx, "unix", "/run/x.sock")
	if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), `"unix"`) {
		t.Errorf("DialContext(unix) = %v; want ErrInvalidOptions quoting the network", err)
	}
}

// TestHooksRefuseInvalidDialer: the hooks built on a Dialer (net/http,
// go-redis, jlaffaye/ftp) surface its refusal on their first dial.
func TestHooksRefuseInvalidDialer(t *testing.T) {
	srv, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	d := &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportOn}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), "leave it empty") {
			t.Errorf("%s: %v; want the Dialer's refusal", what, err)
		}
	}
	tr := dialers.NewHTTPTransport(d)
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+srv.Addr()+"/", nil)
	_, err = tr.RoundTrip(req)
	check("NewHTTPTransport", err)
	_, err = dialers.RedisDialer(d, nil)(ctx, "tcp", srv.Addr())
	check("RedisDialer", err)
	_, err = dialers.RedisDialer(d, &tls.Config{})(ctx, "tcp", srv.Addr())
	check("RedisDialer with TLS", err)
	_, err = dialers.FTPDialFunc(ctx, d, srv.Addr(), nil)("tcp", srv.Addr())
	check("FTPDialFunc", err)
}
