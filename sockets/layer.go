package sockets

import (
	"context"
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
type Layer interface {
	Dial(ctx context.Context, a Address, next func(context.Context) (net.Conn, error)) (net.Conn, error)
}

// dialLayers runs o.Layers[i:] around base, the first Layer outermost.
func dialLayers(ctx context.Context, layers []Layer, a Address, base func(context.Context) (net.Conn, error)) (net.Conn, error) {
	if len(layers) == 0 {
		return base(ctx)
	}
	c, err := layers[0].Dial(ctx, a, func(ctx context.Context) (net.Conn, error) {
		return dialLayers(ctx, layers[1:], a, base)
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
	return c, nil
}
