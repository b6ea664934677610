package sockets_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// upgradeTo connects to a starttls line server and asks it to upgrade.
func upgradeTo(t *testing.T, addr string, cfg *tls.Config) *sockets.Socket {
	t.Helper()
	s := connect(t, addr, &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: cfg})
	if got := readN(t, s, 7); got != "HELLO\r\n" {
		t.Fatal(got)
	}
	s.Write([]byte("STARTTLS\r\n"))
	if got := readN(t, s, 4); got != "GO\r\n" {
		t.Fatal(got)
	}
	return s
}

// Opened on a socket StartTLS returned runs the handshake in the caller's
// goroutine when its context is StartTLSOptions.Context or one that is never
// done; with another context it leaves it to a goroutine of the socket's.
func TestStartTLSOpenedRunsHandshakeInline(t *testing.T) {
	ca := newCA(t)
	own := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	for _, tc := range []struct {
		name   string
		bound  bool // pass the context as StartTLSOptions.Context
		opened func(t *testing.T, bound context.Context) context.Context
		inline bool
	}{
		{"no Context, background", false, func(*testing.T, context.Context) context.Context { return context.Background() }, true},
		{"Context, same context", true, func(_ *testing.T, c context.Context) context.Context { return c }, true},
		{"no Context, own context", false, func(t *testing.T, _ context.Context) context.Context { return own(t) }, false},
		{"Context, another context", true, func(t *testing.T, _ context.Context) context.Context { return own(t) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A caller descheduled for longer than the start delay finds
			// the handshake started: on a loaded machine, try a few times.
			for i := 0; ; i++ {
				srv := starttlsServer(t, ca)
				var stack string
				cfg := ca.ClientConfig()
				cfg.VerifyConnection = func(tls.ConnectionState) error {
					buf := make([]byte, 64<<10)
					stack = string(buf[:runtime.Stack(buf, false)])
					return nil
				}
				s := upgradeTo(t, srv.Addr(), cfg)
				bound := own(t)
				o := &sockets.StartTLSOptions{}
				if tc.bound {
					o.Context = bound
				}
				ts, err := s.StartTLS(o)
				if err != nil {
					t.Fatal(err)
				}
				_, err = ts.Opened(tc.opened(t, bound))
				if err != nil {
					ts.Close()
					t.Fatal(err)
				}
				ts.Write([]byte("PING\r\n"))
				if got := readN(t, ts, 6); got != "PONG\r\n" {
					t.Fatal(got)
				}
				ts.Close()
				got := strings.Contains(stack, "(*Socket).Opened")
				if got == tc.inline {
					break
				}
				if !tc.inline || i == 20 {
					t.Fatalf("handshake ran in the caller's goroutine: %v, want %v; its stack:\n%s", got, tc.inline, stack)
				}
			}
		})
	}
}

// stalledTLSPeer accepts connections, greets for the starttls line protocol
// and then never answers the TLS handshake.
func stalledTLSPeer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			c.Write([]byte("HELLO\r\n"))
			buf := make([]byte, 10)
			if _, err := c.Read(buf); err == nil {
				c.Write([]byte("GO\r\n"))
			}
		}
	}()
	return ln.Addr().String()
}

// StartTLSOptions.Context bounds the handshake: cancelling it ends a
// handshake the peer never answers, whichever goroutine runs it, and the
// new socket fails with the context's error.
func TestStartTLSContextBoundsHandshake(t *testing.T) {
	ca := newCA(t)
	for _, inline := range []bool{true, false} {
		t.Run(map[bool]string{true: "inline", false: "behind"}[inline], func(t *testing.T) {
			addr := stalledTLSPeer(t)
			s := upgradeTo(t, addr, ca.ClientConfig())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ts, err := s.StartTLS(&sockets.StartTLSOptions{Context: ctx})
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close()
			wait := ctx
			if !inline {
				wait = ctxT(t)
			}
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err = ts.Opened(wait)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Opened after the handshake's context was cancelled = %v, want context.Canceled", err)
			}
			select {
			case <-ts.Closed():
			case <-time.After(10 * time.Second):
				t.Fatal("the new socket did not end when its handshake's context was cancelled")
			}
			if !errors.Is(ts.Err(), context.Canceled) {
				t.Fatalf("Err = %v, want context.Canceled", ts.Err())
			}
		})
	}
}

// Once the upgraded socket is open, its StartTLSOptions.Context no longer
// matters: cancelling it leaves the socket working.
func TestStartTLSContextAfterOpenHasNoEffect(t *testing.T) {
	ca := newCA(t)
	srv := starttlsServer(t, ca)
	s := upgradeTo(t, srv.Addr(), ca.ClientConfig())
	ctx, cancel := context.WithCancel(context.Background())
	ts, err := s.StartTLS(&sockets.StartTLSOptions{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if _, err := ts.Opened(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	ts.Write([]byte("PING\r\n"))
	if got := readN(t, ts, 6); got != "PONG\r\n" {
		t.Fatal(got)
	}
	if ts.Err() != nil {
		t.Fatal(ts.Err())
	}
}

// A Context already done fails the upgrade without a handshake; the old
// socket has still ended as upgraded.
func TestStartTLSContextAlreadyDone(t *testing.T) {
	ca := newCA(t)
	addr := stalledTLSPeer(t)
	s := upgradeTo(t, addr, ca.ClientConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ts, err := s.StartTLS(&sockets.StartTLSOptions{Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	if _, err := ts.Opened(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Opened = %v, want context.Canceled", err)
	}
	if !s.Upgraded() {
		t.Fatal("the old socket does not report the upgrade")
	}
}
