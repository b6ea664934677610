package smtp

import (
	"crypto/tls"
	"net"

	"github.com/outboundhq/outbound/dialers"
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
// taken from the address, "localhost" as the EHLO name, a zero
// [dialers.Dialer]. Options are copied, never modified.
type Options struct {
	// Security chooses how SendMail secures the connection; empty means
	// SecurityStartTLS. The Dial functions ignore it.
	Security Security

	// TLSConfig holds the TLS settings (roots, client certificates,
	// server name). Nil means the Dialer's Options.TLSConfig, if any. It is
	// cloned; ServerName defaults to the host of the address and MinVersion
	// to TLS 1.2.
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

	// Dialer opens the socket under the client: "the one dialer" the
	// program's other adapters take the same way, whose Options carry the
	// egress policy, a proxy and layers. Nil means a zero
	// [dialers.Dialer]. Leave its Options.SecureTransport unset (the Dial
	// functions and Security choose the transport): a Dialer that
	// [dialers.Dialer.Validate] refuses is refused here.
	Dialer *dialers.Dialer
}

func (o *Options) localName() string {
	if o.LocalName != "" {
		return o.LocalName
	}
	return "localhost"
}

// tlsConfig returns the TLS configuration for a connection to addr: a clone
// of o.TLSConfig (or of the Dialer's) with ServerName and MinVersion
// defaulted.
func (o *Options) tlsConfig(addr string) *tls.Config {
	base := o.TLSConfig
	if base == nil && o.Dialer != nil && o.Dialer.Options != nil {
		base = o.Dialer.Options.TLSConfig
	}
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
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

// dialer returns the Dialer, refusing one whose settings cannot apply.
func (o *Options) dialer() (*dialers.Dialer, error) {
	d := o.Dialer
	if d == nil {
		d = &dialers.Dialer{}
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

func options(opts *Options) *Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	return &o
}
