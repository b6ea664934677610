package sockets

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
)

// SecureTransport is the Sockets API's secureTransport option.
type SecureTransport string

const (
	// SecureTransportOff is plain TCP (the default).
	SecureTransportOff SecureTransport = "off"
	// SecureTransportOn is TLS from the first byte.
	SecureTransportOn SecureTransport = "on"
	// SecureTransportStartTLS is plain TCP that may later be upgraded with [Socket.StartTLS].
	SecureTransportStartTLS SecureTransport = "starttls"
)

// DialFunc opens the transport under a socket. ctx bounds the dial only.
// It has the signature of [net.Dialer.DialContext], so proxy dialers plug in directly.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Proxy routes connections through an egress proxy ([Options.Proxy]);
// package proxy implements it for SOCKS5, HTTP CONNECT and the proxy
// environment variables.
//
// Through a proxy, the policy's hostname and port rules still apply before
// anything is sent, and address rules still apply to IP literals; a name
// is handed to the proxy unresolved (as curl's socks5h:// does), so which
// addresses it may reach is the proxy's decision.
type Proxy interface {
	// ProxyFor returns the function that dials a through the proxy, or nil
	// to connect directly. Connect calls it once per connection, before any
	// network traffic; it must not block.
	ProxyFor(a Address) (DialFunc, error)
}

// Options are the connect options. The zero value (and a nil *Options) mean
// the Sockets API defaults: plain TCP, allowHalfOpen false, the system's TLS
// roots. Connect copies them; the caller may reuse or change them afterwards.
type Options struct {
	// SecureTransport is "off" (the default when empty), "on" or "starttls".
	SecureTransport SecureTransport

	// AllowHalfOpen keeps the write side open after the peer's EOF. When
	// false (the default), a read that sees EOF shuts the write side and
	// closes the socket cleanly.
	AllowHalfOpen bool

	// TLSConfig holds TLS settings (roots, ALPN, client certificates, server
	// name) for "on" and for a later StartTLS. It is cloned, never modified.
	// ServerName defaults to the connect hostname and MinVersion to TLS 1.2.
	// Setting it with SecureTransport "off" is an error.
	TLSConfig *tls.Config

	// Dial, when set, opens the TCP connection instead of a [net.Dialer].
	// It receives the hostname unresolved, so the policy's address rules
	// apply to IP literals only and checking the addresses of a name is
	// Dial's job (as it is a proxy's). Prefer Proxy for proxies.
	Dial DialFunc

	// Policy is the egress policy (see [Policy]): an egress.Policy, or an
	// egress.PolicyHolder whose policy can be swapped while the program
	// runs. Nil means the default policy: everything allowed but port 25,
	// as on Cloudflare Workers.
	Policy Policy

	// Proxy, when set, chooses an egress proxy for each connection; package
	// proxy has SOCKS5, HTTP CONNECT and the proxy environment variables.
	// Hostname and port rules still apply here; the name is handed to the
	// proxy unresolved, so address rules for names are the proxy's job (IP
	// literals are still checked here). Setting both Dial and Proxy is an
	// error.
	Proxy Proxy

	// Layers run around the dial of every connection, the first outermost:
	// see [Layer]. A nil entry is an error.
	Layers []Layer

	eg *egress // set by Connect for the connection being made
}

func (o *Options) clone() Options {
	if o == nil {
		return Options{SecureTransport: SecureTransportOff}
	}
	c := *o
	if c.SecureTransport == "" {
		c.SecureTransport = SecureTransportOff
	}
	if c.TLSConfig != nil {
		c.TLSConfig = c.TLSConfig.Clone()
	}
	if c.Layers != nil {
		c.Layers = append([]Layer(nil), c.Layers...)
	}
	return c
}

func (o *Options) validate() error {
	for i, l := range o.Layers {
		if l == nil {
			return errorf(ErrInvalidOptions, "Layers["+strconv.Itoa(i)+"] is nil; remove it or set a Layer")
		}
	}
	switch o.SecureTransport {
	case SecureTransportOff:
		if o.TLSConfig != nil {
			return errorf(ErrInvalidOptions, "TLSConfig is set but SecureTransport is \"off\"; set SecureTransport to \"on\" or \"starttls\", or drop TLSConfig")
		}
	case SecureTransportOn, SecureTransportStartTLS:
	default:
		return errorf(ErrInvalidOptions, "SecureTransport "+quote(string(o.SecureTransport))+" is not one of \"off\", \"on\", \"starttls\"")
	}
	return nil
}

// tlsConfig returns the TLS client configuration for host: the caller's
// settings (cloned), ServerName defaulting to host, MinVersion to TLS 1.2.
func tlsConfig(base *tls.Config, host string) *tls.Config {
	var c *tls.Config
	if base != nil {
		c = base.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}
