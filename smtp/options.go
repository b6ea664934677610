package smtp

import (
	"crypto/tls"
	"net"

	"github.com/outboundhq/outbound/sockets"
)

// Security says how [SendMail] secures its connection. The Dial functions
// each fix their own and ignore [Options.Security].
type Security string

const (
	// SecurityStartTLS is submission with STARTTLS (port 587) done by
	// go-smtp's client over a plain socket, as [DialStartTLS]. It is the
	// default.
	SecurityStartTLS Security = "starttls"

	// SecuritySocketStartTLS is submission with STARTTLS done by
	// [sockets.Socket.StartTLS], as [DialSocketStartTLS].
	SecuritySocketStartTLS Security = "socket-starttls"

	// SecurityTLS is implicit TLS from the first byte (port 465, the
	// Sockets API's secureTransport "on"), as [DialTLS].
	SecurityTLS Security = "tls"

	// SecurityPlaintext is no TLS at all, as [Dial]. It needs
	// [Options.AllowPlaintext].
	SecurityPlaintext Security = "plaintext"
)

// Options configure the Dial functions and [SendMail]. A nil *Options means
// the defaults: STARTTLS required, the system's TLS roots, the server name
// taken from the address, "localhost" as the EHLO name, default socket
// options. Options are copied, never modified.
type Options struct {
	// Security chooses how SendMail secures the connection; empty means
	// SecurityStartTLS. The Dial functions ignore it.
	Security Security

	// TLSConfig holds the TLS settings (roots, client certificates,
	// server name). It is cloned; ServerName defaults to the host of the
	// address and MinVersion to TLS 1.2.
	TLSConfig *tls.Config

	// LocalName is the name the client gives in EHLO (or HELO) once the
	// connection is secure; "localhost" when empty. DialStartTLS says
	// "localhost" in the EHLO before STARTTLS, as go-smtp's client does.
	LocalName string

	// AllowPlaintext lets a connection go on without TLS: Dial needs it,
	// and DialStartTLS, DialSocketStartTLS and SendMail continue in
	// plaintext when the server does not offer STARTTLS instead of failing
	// with ErrNoStartTLS. Even then, SendMail never sends credentials over
	// a plaintext connection.
	AllowPlaintext bool

	// Socket holds the options of the socket under the client: the egress
	// policy (Policy), a proxy (Proxy or Dial), AllowHalfOpen. Leave its
	// SecureTransport and TLSConfig unset: the Dial functions choose the
	// transport, and TLS settings go in TLSConfig above.
	Socket *sockets.Options
}

func (o *Options) localName() string {
	if o.LocalName != "" {
		return o.LocalName
	}
	return "localhost"
}

// tlsConfig returns the TLS configuration for a connection to addr: a clone
// of o.TLSConfig with ServerName and MinVersion defaulted.
func (o *Options) tlsConfig(addr string) *tls.Config {
	var cfg *tls.Config
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// socketOptions returns the options for the socket under a client.
func (o *Options) socketOptions(st sockets.SecureTransport, cfg *tls.Config) (*sockets.Options, error) {
	var so sockets.Options
	if o.Socket != nil {
		so = *o.Socket
		if so.SecureTransport != "" || so.TLSConfig != nil {
			return nil, errorf(sockets.ErrInvalidOptions, "Options.Socket.SecureTransport and Options.Socket.TLSConfig must be left unset: the Dial function chooses the transport; put TLS settings in Options.TLSConfig")
		}
	}
	so.SecureTransport = st
	if st != sockets.SecureTransportOff {
		so.TLSConfig = cfg
	}
	return &so, nil
}

func options(opts *Options) *Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	return &o
}
