package sockets

import (
	"context"
	"crypto/tls"
	"net"
)

// A Layer sits between a socket and the network: it runs in place of the
// dial that opens a socket's TCP connection, and may refuse or delay it, or
// wrap the connection it returns (the bytes on the wire, below TLS). Wire
// capture (package capture) and fault injection (package faults) are
// Layers; they plug into [Options.Layers], and so into the one
// dialers.Dialer every adapter takes.
//
// Dial is called once per connection attempt, after the egress policy has
// allowed the connect and after the socket's scope has given it a slot. It
// must either call next, which opens the policy-checked connection to a
// (directly, through [Options.Dial] or through a proxy) and returns it, or
// fail without calling it. ctx bounds the attempt only. A Layer that calls
// next and then fails must close the connection next returned. A Layer must
// be safe for concurrent use.
//
// A Layer whose connection reads ahead (holds bytes its Read has not yet
// returned) should give it a Buffered() int method, and a wrapper a
// NetConn() net.Conn method returning the connection it wraps, so that
// [Socket.StartTLS] still sees plaintext waiting before the handshake and
// refuses it ([ErrPlaintextInjection]); without NetConn the check cannot
// see past the wrapper.
//
// A Layer that also implements [TLSLayer] takes part in the TLS the socket
// runs over that connection.
type Layer interface {
	Dial(ctx context.Context, a Address, next func(context.Context) (net.Conn, error)) (net.Conn, error)
}

// A TLSLayer is a [Layer] that also sees the TLS a socket runs over the
// connection the Layer's Dial returned: wire capture uses it to record the
// session secrets and the plaintext. A Layer that does not implement it
// costs the socket nothing on its data path.
type TLSLayer interface {
	Layer

	// HandshakeTLS is called before each TLS client handshake a socket runs
	// over conn, the connection this Layer's Dial returned: for
	// SecureTransport "on" and for each [Socket.StartTLS]. cfg is the
	// socket's own clone of its TLS configuration, never the caller's; the
	// Layer may change it (set KeyLogWriter, say) before the handshake
	// reads it, and must not keep it.
	//
	// If wrap is not nil, it is called once the handshake has succeeded,
	// with the connection that carries the plaintext; the socket then reads
	// and writes (and sets deadlines and closes) through the net.Conn wrap
	// returns, which must forward every method to plain. With several
	// TLSLayers, the first in Options.Layers wraps outermost. If the
	// handshake fails, wrap is not called and conn is closed.
	HandshakeTLS(conn net.Conn, cfg *tls.Config) (wrap func(plain net.Conn) net.Conn)
}

// tlsTap is a TLSLayer and the connection its Dial returned.
type tlsTap struct {
	l    TLSLayer
	conn net.Conn
}

// layerTaps is what a socket keeps for the TLSLayers among its Layers.
type layerTaps struct {
	// view is what the socket reads and writes once its TLS handshake has
	// succeeded: the TLSLayers' wrappers around the *tls.Conn.
	view net.Conn

	// dialed lists the TLSLayers and their connections, innermost first. The
	// dial fills it before the socket opens; a socket StartTLS returns
	// shares it.
	dialed *[]tlsTap
	// wraps are what this socket's last handshake's HandshakeTLS calls
	// returned, innermost first.
	wraps []func(net.Conn) net.Conn
}

// newLayerTaps returns the taps for a socket with these layers, or nil when
// none of them is a TLSLayer.
func newLayerTaps(layers []Layer) *layerTaps {
	for _, l := range layers {
		if _, ok := l.(TLSLayer); ok {
			return &layerTaps{dialed: new([]tlsTap)}
		}
	}
	return nil
}

// upgraded returns the taps of the socket that StartTLS makes of this one.
func (t *layerTaps) upgraded() *layerTaps {
	if t == nil {
		return nil
	}
	return &layerTaps{dialed: t.dialed}
}

type tapsKey struct{}

// bind returns ctx carrying the list the layers' dial fills.
func (t *layerTaps) bind(ctx context.Context) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, tapsKey{}, t.dialed)
}

// handshake runs the TLSLayers' HandshakeTLS on cfg, before a handshake.
func (t *layerTaps) handshake(cfg *tls.Config) {
	t.wraps = t.wraps[:0]
	for _, tap := range *t.dialed {
		if w := tap.l.HandshakeTLS(tap.conn, cfg); w != nil {
			t.wraps = append(t.wraps, w)
		}
	}
}

// plain returns the connection the socket uses for plaintext over c.
func (t *layerTaps) plain(c net.Conn) net.Conn {
	for _, w := range t.wraps {
		if wc := w(c); wc != nil {
			c = wc
		}
	}
	t.wraps = nil
	return c
}

// dialLayers runs layers around base, the first Layer outermost.
func dialLayers(ctx context.Context, layers []Layer, a Address, base func(context.Context) (net.Conn, error)) (net.Conn, error) {
	dialed, _ := ctx.Value(tapsKey{}).(*[]tlsTap)
	return dialLayer(ctx, layers, a, base, dialed)
}

func dialLayer(ctx context.Context, layers []Layer, a Address, base func(context.Context) (net.Conn, error), dialed *[]tlsTap) (net.Conn, error) {
	if len(layers) == 0 {
		return base(ctx)
	}
	c, err := layers[0].Dial(ctx, a, func(ctx context.Context) (net.Conn, error) {
		return dialLayer(ctx, layers[1:], a, base, dialed)
	})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, err
	}
	if c == nil {
		return nil, errorf(ErrInvalidOptions, "a Layer returned neither a connection nor an error")
	}
	if tl, ok := layers[0].(TLSLayer); ok && dialed != nil {
		*dialed = append(*dialed, tlsTap{l: tl, conn: c})
	}
	return c, nil
}
