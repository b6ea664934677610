package dialers

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/outboundhq/outbound/sockets"
)

// Dialer opens outbound sockets for code that takes a dial function:
// net/http, database drivers, proxies, RPC clients. The zero value dials
// plain TCP with the default options.
//
// Unlike [sockets.Connect], its methods return only once the socket is open,
// so connect and TLS errors surface at dial time, as drivers expect.
// A Dialer is safe for concurrent use; do not change its fields while it is in use.
type Dialer struct {
	// Options are the socket options for every dial; nil means defaults.
	// SecureTransport is ignored by DialContext (always "off") and by
	// DialTLSContext (always "on"). AllowHalfOpen defaults to true here, since
	// drivers expect a net.Conn whose write side outlives the peer's EOF: set
	// NoHalfOpen to get the Sockets API default.
	Options *sockets.Options

	// NoHalfOpen gives the Sockets API default (allowHalfOpen false): the
	// socket closes when the peer's EOF is read.
	NoHalfOpen bool
}

// DialContext connects to address over TCP and waits until the socket is
// open. network must be "tcp", "tcp4" or "tcp6". ctx bounds the connect
// attempt only, not the connection's life (as in [net.Dialer]).
// The returned net.Conn is a *sockets.Socket.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return d.dial(ctx, network, address, sockets.SecureTransportOff, nil)
}

// Dial is DialContext with context.Background.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialTLSContext connects with TLS from the first byte (SecureTransport
// "on") and waits for the handshake. The server name defaults to the host of
// address; TLS settings come from Options.TLSConfig.
func (d *Dialer) DialTLSContext(ctx context.Context, network, address string) (net.Conn, error) {
	return d.dial(ctx, network, address, sockets.SecureTransportOn, nil)
}

// DialTLSConfigContext is DialTLSContext with cfg in place of Options.TLSConfig
// (cfg is cloned).
func (d *Dialer) DialTLSConfigContext(ctx context.Context, network, address string, cfg *tls.Config) (net.Conn, error) {
	return d.dial(ctx, network, address, sockets.SecureTransportOn, cfg)
}

// Connect opens a socket with the Dialer's options and the given secure
// transport, waiting until it is open. It is the typed form of DialContext.
func (d *Dialer) Connect(ctx context.Context, address string, secure sockets.SecureTransport) (*sockets.Socket, error) {
	c, err := d.dial(ctx, "tcp", address, secure, nil)
	if err != nil {
		return nil, err
	}
	return c.(*sockets.Socket), nil
}

func (d *Dialer) dial(ctx context.Context, network, address string, secure sockets.SecureTransport, cfg *tls.Config) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: &sockets.SocketError{Op: "connect", Addr: address,
			Err: errInvalidNetwork(network)}}
	}
	o := d.options(secure, cfg)
	s, err := sockets.Dial(ctx, address, &o)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (d *Dialer) options(secure sockets.SecureTransport, cfg *tls.Config) sockets.Options {
	var o sockets.Options
	if d != nil && d.Options != nil {
		o = *d.Options
	}
	o.SecureTransport = secure
	o.AllowHalfOpen = d == nil || !d.NoHalfOpen
	if cfg != nil {
		o.TLSConfig = cfg
	}
	if secure == sockets.SecureTransportOff {
		o.TLSConfig = nil
	}
	return o
}

type invalidNetwork string

func (e invalidNetwork) Error() string {
	return "network " + string(e) + " is not supported; outbound sockets are TCP: use \"tcp\", \"tcp4\" or \"tcp6\""
}
func (invalidNetwork) Unwrap() error { return sockets.ErrInvalidOptions }

func errInvalidNetwork(n string) error { return invalidNetwork(n) }
