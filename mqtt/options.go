package mqtt

import (
	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
)

// Options configure how this package opens sockets to MQTT brokers. A nil
// *Options means the defaults: a zero [dialers.Dialer] (the system's TLS
// roots) and no hooks. The functions
// of this package copy Options when they are called; changing them afterwards
// has no effect.
type Options struct {
	// Dialer opens every socket: "the one dialer" the program's other
	// adapters take the same way, whose Options carry the egress policy, a
	// proxy, layers and TLS settings. Nil means a zero [dialers.Dialer].
	// The broker URL's scheme decides the secure transport ("off" for
	// tcp:// and mqtt://, "on" for ssl://, tls://, mqtts://, tcps:// and
	// mqtt+ssl://), so leave the Dialer's Options.SecureTransport unset: a
	// Dialer that [dialers.Dialer.Validate] refuses is refused here. Its
	// Options.TLSConfig is used for the TLS schemes when the MQTT client's
	// own TLS configuration (paho's ClientOptions.TLSConfig, autopaho's
	// ClientConfig.TlsCfg) is nil. MQTT has no half-close (a broker's EOF
	// ends the connection), so the sockets close on the broker's EOF
	// whatever the Dialer's NoHalfOpen says, and a Dialer whose
	// Options.AllowHalfOpen is set is refused.
	Dialer *dialers.Dialer

	// OnSocketOpened, when set, is called with every socket this package
	// opened, once it is open and before the MQTT client uses it. It runs on
	// the connecting goroutine and must not block.
	OnSocketOpened func(s *sockets.Socket)

	// OnSocketClosed, when set, is called once for every socket this package
	// opened, after the socket has ended, with why it ended ([sockets.Socket.Err]):
	// nil for a clean ending (the client's Close, the broker's EOF), the cause
	// otherwise (a connection reset, a TLS error). Together with the MQTT
	// client's own connection-lost callback it tells why a connection was lost
	// before a reconnect. It runs on the goroutine that ended the socket
	// ([sockets.Socket.AfterClose]; no goroutine waits for it), so it must
	// not block.
	OnSocketClosed func(s *sockets.Socket, err error)
}

func (o *Options) clone() Options {
	if o == nil {
		return Options{}
	}
	c := *o
	if c.Dialer != nil {
		d := *c.Dialer
		if d.Options != nil {
			so := *d.Options
			d.Options = &so
		}
		c.Dialer = &d
	}
	return c
}
