package sockets_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outboundhq/outbound/sockets"
)

// countLayer counts bytes written through the connections it wraps and the
// order in which layers ran.
type countLayer struct {
	name    string
	order   *[]string
	written atomic.Int64
}

func (l *countLayer) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	*l.order = append(*l.order, l.name)
	c, err := next(ctx)
	if err != nil {
		return nil, err
	}
	return &countConn{Conn: c, n: &l.written}, nil
}

type countConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

type refuseLayer struct{ called atomic.Bool }

func (l *refuseLayer) Dial(context.Context, sockets.Address, func(context.Context) (net.Conn, error)) (net.Conn, error) {
	l.called.Store(true)
	return nil, errors.New("refused by the layer")
}

type nilLayer struct{}

func (nilLayer) Dial(context.Context, sockets.Address, func(context.Context) (net.Conn, error)) (net.Conn, error) {
	return nil, nil
}

func TestLayersWrapTheDialInOrder(t *testing.T) {
	srv := echo(t)
	var order []string
	outer := &countLayer{name: "outer", order: &order}
	inner := &countLayer{name: "inner", order: &order}
	s, err := sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{outer, inner}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
	if strings.Join(order, ",") != "outer,inner" {
		t.Fatalf("layers ran in order %v, want outer,inner", order)
	}
	if outer.written.Load() != 5 || inner.written.Load() != 5 {
		t.Fatalf("layers saw %d and %d bytes, want 5 each", outer.written.Load(), inner.written.Load())
	}
}

func TestLayerRefusesBeforeDialling(t *testing.T) {
	srv := echo(t)
	l := &refuseLayer{}
	_, err := sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{l}})
	if err == nil || !strings.Contains(err.Error(), "refused by the layer") {
		t.Fatalf("err = %v, want the layer's error", err)
	}
	if !l.called.Load() {
		t.Fatal("layer not called")
	}
	if n := srv.Accepted(); n != 0 {
		t.Fatalf("server accepted %d connections, want 0", n)
	}
}

func TestLayerPolicyDeniesFirst(t *testing.T) {
	l := &refuseLayer{}
	_, err := sockets.Dial(ctxT(t), "127.0.0.1:25", &sockets.Options{Layers: []sockets.Layer{l}})
	if !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	if l.called.Load() {
		t.Fatal("layer ran for a connection the policy denied")
	}
}

func TestLayerBadValues(t *testing.T) {
	srv := echo(t)
	_, err := sockets.Connect(ctxT(t), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{nil}})
	if !errors.Is(err, sockets.ErrInvalidOptions) {
		t.Fatalf("nil layer: err = %v, want ErrInvalidOptions", err)
	}
	_, err = sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{nilLayer{}}})
	if !errors.Is(err, sockets.ErrInvalidOptions) {
		t.Fatalf("layer returning nil, nil: err = %v, want ErrInvalidOptions", err)
	}
}

func TestLayersSliceIsCopied(t *testing.T) {
	srv := echo(t)
	var order []string
	l := &countLayer{name: "l", order: &order}
	layers := []sockets.Layer{l}
	o := &sockets.Options{Layers: layers}
	s, err := sockets.Connect(ctxT(t), srv.Addr(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	layers[0] = &refuseLayer{} // changing the caller's slice after Connect
	if _, err := s.Opened(ctxT(t)); err != nil {
		t.Fatalf("Opened: %v (the socket used the caller's changed slice)", err)
	}
}
