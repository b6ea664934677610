package egress_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// dialLog is an Options.Dial that records every address it is handed and
// dials it with a net.Dialer (the keep-alive/timeout dialer users write).
type dialLog struct {
	mu    sync.Mutex
	addrs []string
	hook  func(ctx context.Context, addr string) (net.Conn, error, bool) // handled when the bool is true
}

func (d *dialLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	if d.hook != nil {
		if c, err, ok := d.hook(ctx, addr); ok {
			return c, err
		}
	}
	nd := net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return nd.DialContext(ctx, network, addr)
}

func (d *dialLog) seen() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.addrs...)
}

// TestCustomDialIsChecked is the bypass of issue 13: with
// PublicInternetOnly and Options.Dial set, "localhost:PORT" used to reach
// a loopback listener because a custom Dial skipped address rules for
// names. Every Dial-opened connection now passes the policy on the
// address dialled: the name is resolved here and refused.
func TestCustomDialIsChecked(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	for _, cfg := range []egress.PolicyConfig{egress.PublicInternetOnly(), denylist()} {
		d := &dialLog{}
		_, err := sockets.Dial(ctxT(t), "localhost:"+ln.port(), &sockets.Options{Policy: newPolicy(t, cfg), Dial: d.dial})
		if !isDenied(err) {
			t.Fatalf("Dial(localhost) with a custom Dial = %v, want ErrDenied", err)
		}
		if got := d.seen(); len(got) != 0 {
			t.Fatalf("the custom Dial was handed %v; a denied address must never reach it", got)
		}
		// Through a Layer too: layers wrap the checked dial, not replace it.
		_, err = sockets.Dial(ctxT(t), "localhost:"+ln.port(), &sockets.Options{Policy: newPolicy(t, cfg), Dial: d.dial, Layers: []sockets.Layer{passLayer{}}})
		if !isDenied(err) {
			t.Fatalf("with a Layer: %v, want ErrDenied", err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if n := ln.accepted.Load(); n != 0 {
		t.Fatalf("the loopback listener accepted %d connections", n)
	}
}

type passLayer struct{}

func (passLayer) Dial(ctx context.Context, _ sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	return next(ctx)
}

// TestCustomDialGetsCheckedLiteral: Dial is handed the allowed IP literal,
// never the name or a denied address, and the hostname stays the socket's
// name for TLS: the certificate is checked for it and SNI carries it.
func TestCustomDialGetsCheckedLiteral(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := ca.ServerConfig("svc.example")
	if err != nil {
		t.Fatal(err)
	}
	sni := make(chan string, 1)
	scfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) { sni <- h.ServerName; return nil, nil }
	tl, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	go func() {
		c, err := tl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "hello")
	}()
	_, port, _ := net.SplitHostPort(tl.Addr().String())
	cfg := egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-private", Action: egress.Deny, Addrs: []string{"private"}}}}
	cfg.Resolver = resolveTo("10.1.2.3", "127.0.0.1")
	d := &dialLog{}
	s, err := sockets.Dial(ctxT(t), "svc.example:"+port, &sockets.Options{
		Policy: newPolicy(t, cfg), Dial: d.dial,
		SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := readN(t, s, 5); got != "hello" {
		t.Fatalf("read %q", got)
	}
	if got := d.seen(); len(got) != 1 || got[0] != "127.0.0.1:"+port {
		t.Fatalf("Dial was handed %v, want only 127.0.0.1:%s", got, port)
	}
	if got := <-sni; got != "svc.example" {
		t.Fatalf("SNI %q, want the hostname", got)
	}
}

// TestHappyEyeballsDeadFamily: a name with IPv6 and IPv4 answers whose
// IPv6 path never answers connects over IPv4 after the attempt delay
// (about 250 ms), not after the kernel's connect timeout; every attempt is
// on a checked address, the denied one is never dialled, and the attempt
// left hanging is cancelled.
func TestHappyEyeballsDeadFamily(t *testing.T) {
	srv := echo(t)
	_, port, _ := net.SplitHostPort(srv.Addr())
	cfg := egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-private", Action: egress.Deny, Addrs: []string{"private"}}}}
	cfg.Resolver = resolveTo("::1", "fd00::9", "10.1.2.3", "127.0.0.1")
	cancelled := make(chan struct{})
	d := &dialLog{hook: func(ctx context.Context, addr string) (net.Conn, error, bool) {
		if !strings.HasPrefix(addr, "[::1]") {
			return nil, nil, false
		}
		<-ctx.Done() // the dead family: never answers
		close(cancelled)
		return nil, ctx.Err(), true
	}}
	start := time.Now()
	s, err := sockets.Dial(ctxT(t), "dual.example:"+port, &sockets.Options{Policy: newPolicy(t, cfg), Dial: d.dial})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if took >= 400*time.Millisecond || took < 200*time.Millisecond {
		t.Fatalf("connected in %v, want the attempt delay (~250 ms), under 400 ms", took)
	}
	if got := d.seen(); len(got) != 2 || got[0] != "[::1]:"+port || got[1] != "127.0.0.1:"+port {
		t.Fatalf("dialled %v, want [::1] then 127.0.0.1 (the private answers denied, never dialled)", got)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the losing attempt was not cancelled")
	}
	if info := opened(t, s); !strings.HasPrefix(info.RemoteAddress, "127.0.0.1:") {
		t.Fatalf("remote %s", info.RemoteAddress)
	}
}

// TestHappyEyeballsFailureStartsNext: a refused attempt starts the next
// address at once (no attempt delay), with the default dialer: nothing
// listens on [::1]:port, the IPv4 listener answers.
func TestHappyEyeballsFailureStartsNext(t *testing.T) {
	srv := echo(t)
	_, port, _ := net.SplitHostPort(srv.Addr())
	cfg := egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-private", Action: egress.Deny, Addrs: []string{"private"}}}}
	cfg.Resolver = resolveTo("::1", "127.0.0.1")
	if l6, err := net.Listen("tcp", "[::1]:"+port); err == nil {
		l6.Close() // the port is free on IPv6: connecting there is refused
	} else if !strings.Contains(err.Error(), "address already in use") {
		t.Logf("no IPv6 loopback (%v): the IPv6 attempt fails at once", err)
	}
	start := time.Now()
	s, err := sockets.Dial(ctxT(t), "dual.example:"+port, &sockets.Options{Policy: newPolicy(t, cfg)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if took := time.Since(start); took >= 200*time.Millisecond {
		t.Fatalf("took %v; a refused attempt should start the next at once", took)
	}
}

// TestHappyEyeballsLoserClosed: when both families connect, the one that
// loses the race is closed.
func TestHappyEyeballsLoserClosed(t *testing.T) {
	srv := echo(t)
	_, port, _ := net.SplitHostPort(srv.Addr())
	cfg := egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-private", Action: egress.Deny, Addrs: []string{"private"}}}}
	cfg.Resolver = resolveTo("::1", "127.0.0.1")
	closed := make(chan string, 2)
	d := &dialLog{hook: func(ctx context.Context, addr string) (net.Conn, error, bool) {
		if strings.HasPrefix(addr, "[::1]") {
			time.Sleep(350 * time.Millisecond) // slow, but it gets there (ignoring ctx)
		}
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			return nil, err, true
		}
		return &closeRecorder{Conn: c, name: addr, closed: closed}, nil, true
	}}
	s, err := sockets.Dial(ctxT(t), "dual.example:"+port, &sockets.Options{Policy: newPolicy(t, cfg), Dial: d.dial})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case name := <-closed:
		if name != "[::1]:"+port {
			t.Fatalf("closed %s, want the loser [::1]", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the losing connection was never closed")
	}
	s.Write([]byte("x"))
	if got := readN(t, s, 1); got != "x" {
		t.Fatalf("winner read %q", got)
	}
}

type closeRecorder struct {
	net.Conn
	name   string
	once   sync.Once
	closed chan string
}

func (c *closeRecorder) Close() error {
	c.once.Do(func() { c.closed <- c.name })
	return c.Conn.Close()
}
