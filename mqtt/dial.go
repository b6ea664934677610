package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
)

// ErrUnsupportedScheme is wrapped by the error for a broker URL whose scheme
// this package does not dial (ws://, wss://, unix://, ...).
var ErrUnsupportedScheme = errors.New("unsupported MQTT broker URL scheme")

// Default ports used when a broker URL has none.
const (
	DefaultPort    = 1883 // MQTT over plain TCP
	DefaultTLSPort = 8883 // MQTT over TLS
)

// secureTransport maps a broker URL scheme to the Sockets API's secureTransport.
func secureTransport(scheme string) (sockets.SecureTransport, bool) {
	switch strings.ToLower(scheme) {
	case "tcp", "mqtt":
		return sockets.SecureTransportOff, true
	case "ssl", "tls", "mqtts", "tcps", "mqtt+ssl":
		return sockets.SecureTransportOn, true
	}
	return "", false
}

// brokerAddress returns the "host:port" to connect to for broker, with the
// scheme's default port when the URL has none.
func brokerAddress(broker *url.URL, secure sockets.SecureTransport) (string, error) {
	host := broker.Hostname()
	if host == "" {
		return "", fmt.Errorf("mqtt: broker URL %q has no host; write it as scheme://host:port, e.g. mqtt://127.0.0.1:1883: %w",
			broker.Redacted(), sockets.ErrInvalidAddress)
	}
	port := broker.Port()
	if port == "" {
		p := DefaultPort
		if secure == sockets.SecureTransportOn {
			p = DefaultTLSPort
		}
		port = fmt.Sprint(p)
	}
	return net.JoinHostPort(host, port), nil
}

// connect opens a socket to broker and waits until it is open. clientTLS,
// when not nil, takes the place of the Dialer's Options.TLSConfig.
func (o *Options) connect(ctx context.Context, broker *url.URL, clientTLS *tls.Config) (*sockets.Socket, error) {
	if broker == nil {
		return nil, fmt.Errorf("mqtt: no broker URL: %w", sockets.ErrInvalidAddress)
	}
	secure, ok := secureTransport(broker.Scheme)
	if !ok {
		return nil, fmt.Errorf("mqtt: broker URL %q: scheme %q is not dialled through outbound sockets; use tcp:// or mqtt:// (plain) or ssl://, tls:// or mqtts:// (TLS): %w",
			broker.Redacted(), broker.Scheme, ErrUnsupportedScheme)
	}
	addr, err := brokerAddress(broker, secure)
	if err != nil {
		return nil, err
	}
	var d dialers.Dialer
	if o.Dialer != nil {
		d = *o.Dialer
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	if d.Options != nil && d.Options.AllowHalfOpen {
		return nil, fmt.Errorf("mqtt: the Dialer's Options.AllowHalfOpen cannot apply: MQTT has no half-close, a broker's EOF ends the connection; give this adapter a Dialer without AllowHalfOpen: %w", sockets.ErrInvalidOptions)
	}
	d.NoHalfOpen = true // the Sockets API default: the broker's EOF closes the socket
	if secure == sockets.SecureTransportOff {
		clientTLS = nil
	}
	s, err := d.DialSocket(ctx, addr, secure, clientTLS)
	if err != nil {
		return nil, err
	}
	if o.OnSocketOpened != nil {
		o.OnSocketOpened(s)
	}
	if h := o.OnSocketClosed; h != nil {
		s.AfterClose(func() { h(s, s.Err()) })
	}
	return s, nil
}

// withTimeout bounds ctx by d when d is positive.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return context.WithCancel(ctx)
}

// Dial opens a socket to the MQTT broker at broker and waits until it is open
// (for the TLS schemes, until the handshake is done), so connect, policy and
// certificate errors surface here. The scheme decides the secure transport
// (see [Options.Dialer]); a URL without a port gets [DefaultPort] or
// [DefaultTLSPort]. TLS settings come from the Dialer's Options.TLSConfig.
//
// ctx bounds the connect attempt only, not the connection's life; its values
// (a request scope, for example) apply to the socket as in [sockets.Connect].
//
// The returned [*Conn] is ready for paho.golang's paho.ClientConfig.Conn.
func Dial(ctx context.Context, broker *url.URL, opts *Options) (*Conn, error) {
	o := opts.clone()
	s, err := o.connect(ctx, broker, nil)
	if err != nil {
		return nil, err
	}
	return newConn(s), nil
}
