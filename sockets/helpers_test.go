package sockets_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serve(t *testing.T) func(s *sockettest.Server, err error) *sockettest.Server {
	return func(s *sockettest.Server, err error) *sockettest.Server {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func echo(t *testing.T) *sockettest.Server {
	return serve(t)(sockettest.NewEcho())
}

func newCA(t *testing.T) *sockettest.CA {
	t.Helper()
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func serverTLS(t *testing.T, ca *sockettest.CA, hosts ...string) *tls.Config {
	t.Helper()
	cfg, err := ca.ServerConfig(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func connect(t *testing.T, addr string, o *sockets.Options) *sockets.Socket {
	t.Helper()
	s, err := sockets.Connect(ctxT(t), addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func opened(t *testing.T, s *sockets.Socket) sockets.SocketInfo {
	t.Helper()
	info, err := s.Opened(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func waitClosed(t *testing.T, s *sockets.Socket) {
	t.Helper()
	select {
	case <-s.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("Closed did not fire")
	}
}

func notClosed(t *testing.T, s *sockets.Socket) {
	t.Helper()
	select {
	case <-s.Closed():
		t.Fatalf("Closed fired unexpectedly (Err = %v)", s.Err())
	default:
	}
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return string(b)
}

// gate is a DialFunc that holds the dial until released, to observe the
// pending state.
type gate struct {
	release chan struct{}
	started chan struct{}
	err     error // when set, the dial fails with it after release
}

func newGate() *gate { return &gate{release: make(chan struct{}), started: make(chan struct{}, 1)} }

func (g *gate) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	g.started <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.err != nil {
		return nil, g.err
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func isClosedErr(err error) bool {
	return errors.Is(err, net.ErrClosed) && errors.Is(err, sockets.ErrClosed)
}

// freePort returns a loopback address where nothing listens.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newPolicy(t testing.TB, cfg egress.PolicyConfig) *egress.Policy {
	t.Helper()
	p, err := egress.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
