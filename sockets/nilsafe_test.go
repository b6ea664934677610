package sockets_test

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// TestZeroSocket: the zero Socket is an ended socket, and a nil *Socket's
// Close, Closed, Err and AfterClose do not panic.
func TestZeroSocket(t *testing.T) {
	s := new(sockets.Socket)
	for i := 0; i < 2; i++ {
		if err := s.Close(); err != nil {
			t.Fatalf("new(Socket).Close() #%d = %v, want nil", i+1, err)
		}
	}
	select {
	case <-s.Closed():
	default:
		t.Fatal("the zero Socket's Closed has not fired")
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	if _, err := s.Read(make([]byte, 1)); !isClosedErr(err) {
		t.Fatalf("Read = %v, want ErrClosed", err)
	}
	if _, err := s.Write([]byte("x")); !isClosedErr(err) {
		t.Fatalf("Write = %v, want ErrClosed", err)
	}
	if _, err := s.Opened(ctxT(t)); !isClosedErr(err) {
		t.Fatalf("Opened = %v, want ErrClosed", err)
	}
	if _, err := s.StartTLS(nil); !isClosedErr(err) {
		t.Fatalf("StartTLS = %v, want ErrClosed", err)
	}
	if ts, err := s.UpgradeTLS(nil); ts != nil || !isClosedErr(err) {
		t.Fatalf("UpgradeTLS = %v, %v, want ErrClosed", ts, err)
	}
	if err := s.CloseWrite(); !isClosedErr(err) {
		t.Fatalf("CloseWrite = %v, want ErrClosed", err)
	}
	ran := false
	s.AfterClose(func() { ran = true })
	if !ran {
		t.Fatal("AfterClose on the zero Socket did not run at once")
	}
	s.AfterClose(nil)

	var ns *sockets.Socket
	if err := ns.Close(); !errors.Is(err, os.ErrInvalid) {
		t.Fatalf("(*Socket)(nil).Close() = %v, want os.ErrInvalid", err)
	}
	<-ns.Closed()
	if err := ns.Err(); err != nil {
		t.Fatalf("(*Socket)(nil).Err() = %v", err)
	}
	ns.AfterClose(nil)
}

// TestAfterCloseNil: AfterClose(nil) is ignored; the ending does not panic
// (it would in the goroutine that ends the socket).
func TestAfterCloseNil(t *testing.T) {
	s := connect(t, echo(t).Addr(), nil)
	s.AfterClose(nil)
	ran := false
	s.AfterClose(func() { ran = true })
	opened(t, s)
	s.Close()
	if !ran {
		t.Fatal("the hook after a nil one did not run")
	}
}

// TestZeroAndNilScope: new(Scope) works as a scope with the default limit;
// a nil *Scope reads as no scope and its Close does nothing.
func TestZeroAndNilScope(t *testing.T) {
	if err := new(sockets.Scope).Close(); err != nil {
		t.Fatalf("new(Scope).Close() = %v", err)
	}
	sc := new(sockets.Scope)
	if got := sc.Limit(); got != sockets.DefaultScopeLimit {
		t.Fatalf("new(Scope).Limit() = %d, want %d", got, sockets.DefaultScopeLimit)
	}
	ctx := sockets.WithScope(ctxT(t), sc)
	srv := echo(t)
	var socks []*sockets.Socket
	for i := 0; i < sockets.DefaultScopeLimit+1; i++ {
		socks = append(socks, mustConnect(t, ctx, srv.Addr(), nil))
	}
	opened(t, socks[0])
	scopeState(t, sc, sockets.DefaultScopeLimit, 1)
	done := sc.Done()
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
	for _, s := range socks {
		waitClosed(t, s)
	}
	if err := sc.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := sockets.Connect(ctx, srv.Addr(), nil); !errors.Is(err, sockets.ErrClosed) {
		t.Fatalf("Connect in an ended zero Scope = %v, want ErrClosed", err)
	}

	var nsc *sockets.Scope
	if err := nsc.Close(); err != nil {
		t.Fatalf("(*Scope)(nil).Close() = %v", err)
	}
	if nsc.Name() != "" || nsc.Limit() != -1 || nsc.Done() != nil {
		t.Fatalf("nil Scope reads: name %q, limit %d, done %v", nsc.Name(), nsc.Limit(), nsc.Done())
	}
	if o, w := nsc.Open(); o != 0 || w != 0 {
		t.Fatalf("nil Scope Open() = %d, %d", o, w)
	}
	// A nil *Scope in a context is no scope.
	s := mustConnect(t, sockets.WithScope(ctxT(t), nil), srv.Addr(), nil)
	opened(t, s)
	s.Close()
}

type ptrProxy struct{ addr string }

func (p *ptrProxy) ProxyFor(sockets.Address) (sockets.DialFunc, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.addr) // panics on a nil p
	}, nil
}

type ptrLayer struct{ n int }

func (l *ptrLayer) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	l.n++ // panics on a nil l
	return next(ctx)
}

type funcLayer func(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error)

func (f funcLayer) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	return f(ctx, a, next)
}

// TestTypedNilOptionsRefused: a typed nil in an interface field of Options
// (a nil *T proxy, policy or layer) is refused at Connect with
// ErrInvalidOptions naming the field and type, instead of panicking in the
// connect goroutine.
func TestTypedNilOptionsRefused(t *testing.T) {
	addr := echo(t).Addr()
	cases := []struct {
		name string
		o    *sockets.Options
		want string
	}{
		{"proxy", &sockets.Options{Proxy: (*ptrProxy)(nil)}, "Proxy is a nil *sockets_test.ptrProxy"},
		{"policy holder", &sockets.Options{Policy: (*egress.PolicyHolder)(nil)}, "Policy is a nil *egress.PolicyHolder"},
		{"policy", &sockets.Options{Policy: (*egress.Policy)(nil)}, "Policy is a nil *egress.Policy"},
		{"layer", &sockets.Options{Layers: []sockets.Layer{(*ptrLayer)(nil)}}, "Layers[0] is a nil *sockets_test.ptrLayer"},
		{"func layer", &sockets.Options{Layers: []sockets.Layer{&ptrLayer{}, funcLayer(nil)}}, "Layers[1] is a nil sockets_test.funcLayer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, f := range []func(context.Context, string, *sockets.Options) (*sockets.Socket, error){sockets.Connect, sockets.Dial} {
				s, err := f(ctxT(t), addr, c.o)
				if err == nil {
					s.Close()
				}
				if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v; want ErrInvalidOptions saying %q", err, c.want)
				}
			}
		})
	}
}

// TestPanicInConnectGoroutineIsAnError: a panic in code the caller put in
// Options, run in the goroutine Connect started, fails the socket instead
// of crashing the program.
func TestPanicInConnectGoroutineIsAnError(t *testing.T) {
	boom := funcLayer(func(context.Context, sockets.Address, func(context.Context) (net.Conn, error)) (net.Conn, error) {
		panic("boom")
	})
	s := connect(t, echo(t).Addr(), &sockets.Options{Layers: []sockets.Layer{boom}})
	_, err := s.Opened(ctxT(t))
	if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), "panicked") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Opened = %v; want the panic as an error", err)
	}
	waitClosed(t, s)
}

// TestNilContextRefused: a nil ctx is an error, as in net/http, not a panic.
func TestNilContextRefused(t *testing.T) {
	//lint:ignore SA1012 the nil context is what is tested
	if _, err := sockets.Connect(nil, "example.com:443", nil); !errors.Is(err, sockets.ErrInvalidOptions) { //nolint:staticcheck
		t.Fatalf("Connect(nil ctx) = %v, want ErrInvalidOptions", err)
	}
}
