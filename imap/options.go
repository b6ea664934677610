package imap

import (
	"crypto/tls"
	"net"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
)

// Options configure the Dial functions. A nil *Options means the defaults:
// TLS required, the system's TLS roots (or the Dialer's), the server name
// taken from the address, credentials only over TLS, a zero
// [dialers.Dialer]. Options are copied, never modified.
type Options struct {
	// Dialer opens the socket under the client: the egress policy, proxy,
	// scope rules, TLS roots and layers of its Options apply, as for every
	// adapter of this module. Nil means a zero dialers.Dialer. Leave its
	// Options.SecureTransport unset: each Dial function chooses it.
	Dialer *dialers.Dialer

	// TLSConfig holds the TLS settings (roots, client certificates, server
	// name). Nil means the Dialer's Options.TLSConfig, if any. It is
	// cloned; ServerName defaults to the host of the address and MinVersion
	// to TLS 1.2. DialTLS adds the ALPN protocol "imap" when NextProtos is
	// empty, as go-imap does.
	TLSConfig *tls.Config

	// AllowPlaintext lets a connection go on without TLS: [Dial] needs it,
	// and [DialStartTLS] and [DialSocketStartTLS] continue in plaintext when
	// the server does not offer STARTTLS instead of failing with
	// [ErrNoStartTLS]. Credentials stay refused on such a connection unless
	// AllowInsecureAuth is set too.
	AllowPlaintext bool

	// AllowInsecureAuth lets LOGIN and AUTHENTICATE go over a connection
	// that is not TLS. Without it the client refuses them on such a
	// connection before a byte of the command is sent ([ErrInsecureAuth]).
	AllowInsecureAuth bool

	// Client holds go-imap's client options: UnilateralDataHandler (for
	// IDLE and mailbox updates), DebugWriter, WordDecoder. Leave its
	// TLSConfig and Dialer nil: TLS settings go in TLSConfig above and the
	// socket comes from Dialer. It is copied.
	Client *imapclient.Options
}

func options(opts *Options) *Options {
	var o Options
	if opts != nil {
		o = *opts
	}
	return &o
}

// clientOptions returns a copy of the go-imap options, refusing the fields
// this package sets itself.
func (o *Options) clientOptions() (*imapclient.Options, error) {
	var co imapclient.Options
	if o.Client != nil {
		co = *o.Client
		if co.TLSConfig != nil || co.Dialer != nil {
			return nil, errorf(sockets.ErrInvalidOptions, "Options.Client.TLSConfig and Options.Client.Dialer must be left nil: put TLS settings in Options.TLSConfig and the dialer in Options.Dialer")
		}
	}
	return &co, nil
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
