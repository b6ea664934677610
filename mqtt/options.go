package mqtt

import (
	"github.com/outboundhq/outbound/sockets"
)

// Options configure how this package opens sockets to MQTT brokers. A nil
// *Options means the defaults: the Sockets API defaults for every socket
// (allowHalfOpen false, the system's TLS roots) and no hooks. The functions
// of this package copy Options when they are called; changing them afterwards
// has no effect.
type Options struct {
	// SocketOptions are the options of every socket: TLS settings, a custom
	// Dial (a proxy's), and the egress policy. SecureTransport is ignored:
	// the broker URL's scheme decides it ("off" for tcp:// and mqtt://,
	// "on" for ssl://, tls://, mqtts://, tcps:// and mqtt+ssl://).
	// TLSConfig is used only for the TLS schemes, and only when the MQTT
	// client's own TLS configuration (paho's ClientOptions.TLSConfig,
	// autopaho's ClientConfig.TlsCfg) is nil.
	SocketOptions *sockets.Options

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
	if c.SocketOptions != nil {
		so := *c.SocketOptions
		if so.TLSConfig != nil {
			so.TLSConfig = so.TLSConfig.Clone()
		}
		c.SocketOptions = &so
	}
	return c
}
