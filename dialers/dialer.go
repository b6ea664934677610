package dialers

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"

	"github.com/outboundhq/outbound/sockets"
)

// Dialer is "the one dialer": configured once (egress policy, proxy, TLS
// roots, layers), it opens the outbound sockets of every adapter in this
// module (packages pg, mysql, smtp and mqtt take it as the Dialer field of
// their options; [NewHTTPTransport], [RedisDialer], [FTPDialFunc] and
// package sshdial take it as an argument) and of any code that takes a dial
// function: net/http, database drivers, proxies, RPC clients. A nil
// *Dialer, and the zero value, dial plain TCP with the default options.
//
// Its DialContext, DialTLSContext and DialSocket methods return only once
// the socket is open, so connect and TLS errors surface at dial time, as
// drivers expect; [Dialer.Connect] returns at once, as [sockets.Connect]
// does.
//
// A Dialer is safe for concurrent use; do not change its fields while it is
// in use. Settings no dial could honour are refused with an error wrapping
// [sockets.ErrInvalidOptions] (see [Dialer.Validate]), never ignored.
type Dialer struct {
	// Options are the socket options for every dial; nil means defaults.
	// Leave SecureTransport empty: each method chooses it (DialContext
	// "off", DialTLSContext "on", the argument of DialSocket and Connect).
	// TLSConfig holds the TLS settings of the dials that do TLS; adapters
	// whose driver does TLS itself (pg, mysql) refuse a Dialer that has one.
	// AllowHalfOpen is true for every socket, since drivers expect a
	// net.Conn whose write side outlives the peer's EOF: set NoHalfOpen to
	// get the Sockets API default.
	Options *sockets.Options

	// NoHalfOpen gives the Sockets API default (allowHalfOpen false): the
	// socket closes when the peer's EOF is read. Setting it together with
	// Options.AllowHalfOpen is an error.
	NoHalfOpen bool
}

// Validate reports the settings of d that no dial could honour: a
// SecureTransport in d.Options (each method chooses the transport), or
// NoHalfOpen together with d.Options.AllowHalfOpen. The error wraps
// [sockets.ErrInvalidOptions] and names the fix. Every dial checks it;
// adapters call it when they are configured, so the error surfaces before
// the first connection. A nil Dialer is valid.
func (d *Dialer) Validate() error {
	if d == nil || d.Options == nil {
		return nil
	}
	if st := d.Options.SecureTransport; st != "" {
		return &invalidOptions{"Dialer.Options.SecureTransport is " + quote(string(st)) + "; leave it empty: each dial chooses the transport (DialContext \"off\", DialTLSContext \"on\", the argument of DialSocket and Connect, the adapter's own setting)"}
	}
	if d.NoHalfOpen && d.Options.AllowHalfOpen {
		return &invalidOptions{"Dialer.NoHalfOpen and Dialer.Options.AllowHalfOpen are both set; a Dialer's sockets are half-open unless NoHalfOpen is set: drop one of them"}
	}
	return nil
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

// DialSocket opens a TCP socket to address with the Dialer's options and the
// given secure transport, and waits until it is open (for "on", until the
// TLS handshake is done). tlsConfig, when not nil, takes the place of
// Options.TLSConfig for "on" and "starttls" (it is cloned); with "off" no
// TLS settings apply and a non-nil tlsConfig is an error.
//
// ctx bounds the connect (and handshake) only, not the socket's life; its
// scope ([sockets.WithScope]) owns the socket. It is the typed, waiting form
// of DialContext; see [Dialer.Connect] for the form that does not wait.
func (d *Dialer) DialSocket(ctx context.Context, address string, secure sockets.SecureTransport, tlsConfig *tls.Config) (*sockets.Socket, error) {
	if err := checkSecure(secure, tlsConfig); err != nil {
		return nil, &sockets.SocketError{Op: "connect", Addr: address, Err: err}
	}
	c, err := d.dial(ctx, "tcp", address, secure, tlsConfig)
	if err != nil {
		return nil, err
	}
	return c.(*sockets.Socket), nil
}

// Connect opens a TCP socket to address with the Dialer's options and the
// given secure transport (tlsConfig as in [Dialer.DialSocket]) exactly as
// [sockets.Connect] does: it returns at once, without waiting for the
// connection; the socket's Opened reports the outcome, and I/O started
// before it opens waits for it. Its error is only for what is known at once
// (bad address or options, a hostname-level policy denial, scope rules).
// ctx bounds the connect attempt, not the socket's life.
func (d *Dialer) Connect(ctx context.Context, address string, secure sockets.SecureTransport, tlsConfig *tls.Config) (*sockets.Socket, error) {
	if err := checkSecure(secure, tlsConfig); err != nil {
		return nil, &sockets.SocketError{Op: "connect", Addr: address, Err: err}
	}
	if err := d.Validate(); err != nil {
		return nil, &sockets.SocketError{Op: "connect", Addr: address, Err: err}
	}
	o := d.options(secure, tlsConfig)
	return sockets.Connect(ctx, address, &o)
}

func (d *Dialer) dial(ctx context.Context, network, address string, secure sockets.SecureTransport, cfg *tls.Config) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &net.OpError{Op: "dial", Net: network, Err: &sockets.SocketError{Op: "connect", Addr: address,
			Err: errInvalidNetwork(network)}}
	}
	if err := d.Validate(); err != nil {
		return nil, &sockets.SocketError{Op: "connect", Addr: address, Err: err}
	}
	o := d.options(secure, cfg)
	s, err := sockets.Dial(ctx, address, &o)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// checkSecure refuses TLS settings given with SecureTransport "off"; an
// unknown SecureTransport is left to sockets, which names the valid ones.
func checkSecure(secure sockets.SecureTransport, cfg *tls.Config) error {
	if cfg != nil && (secure == sockets.SecureTransportOff || secure == "") {
		return &invalidOptions{"a TLS configuration was given with SecureTransport \"off\"; pass nil, or use \"on\" or \"starttls\""}
	}
	return nil
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
	if secure == sockets.SecureTransportOff || secure == "" {
		o.TLSConfig = nil
	}
	return o
}

// invalidOptions is a refused Dialer setting; it matches
// sockets.ErrInvalidOptions.
type invalidOptions struct{ msg string }

func (e *invalidOptions) Error() string { return e.msg }
func (*invalidOptions) Unwrap() error   { return sockets.ErrInvalidOptions }

type invalidNetwork string

func (e invalidNetwork) Error() string {
	return "network " + quote(string(e)) + " is not supported; outbound sockets are TCP: use \"tcp\", \"tcp4\" or \"tcp6\""
}
func (invalidNetwork) Unwrap() error { return sockets.ErrInvalidOptions }

func errInvalidNetwork(n string) error { return invalidNetwork(n) }

func quote(s string) string { return strconv.Quote(s) }
