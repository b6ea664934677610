// Package mqtt connects Eclipse paho MQTT clients to their brokers through
// outbound sockets, so that MQTT traffic gets the Sockets API's options, the
// egress policy and the request scope like every other connection.
//
// For github.com/eclipse/paho.mqtt.golang (MQTT 3.1.1), [OpenConnection]
// gives ClientOptions.SetCustomOpenConnectionFn a function that opens every
// connection, reconnects included:
//
//	o := paho.NewClientOptions().AddBroker("mqtts://broker.example:8883")
//	o.SetCustomOpenConnectionFn(mqtt.OpenConnection(nil))
//	c := paho.NewClient(o)
//
// For github.com/eclipse/paho.golang (MQTT 5), [AttemptConnection] plugs into
// autopaho.ClientConfig.AttemptConnection, and [Dial] gives a [*Conn] for
// paho.ClientConfig.Conn.
//
// # Schemes and TLS
//
// The broker URL's scheme decides the socket's secureTransport: tcp:// and
// mqtt:// are "off" (plain MQTT, port 1883 by default); ssl://, tls://,
// mqtts://, tcps:// and mqtt+ssl:// are "on" (MQTT over TLS, port 8883 by
// default). TLS settings come from the client's own TLS configuration when
// it has one, otherwise from [Options].Dialer's Options.TLSConfig; the
// certificate is verified against the system roots (or the configured ones)
// and the broker's host name. WebSocket and unix-socket brokers are refused
// with [ErrUnsupportedScheme].
//
// # Egress policy and request scope
//
// [Options].Dialer is "the one dialer" ([dialers.Dialer]) that the
// program's other adapters (pg, mysql, smtp, net/http) take the same way.
// Its Options.Policy decides which brokers may be reached; a denied broker fails at connect (the client's connect error wraps
// [sockets.ErrDenied]) and nothing is sent to it. A request scope
// ([sockets.WithScope]) comes from the context: the one given to
// [OpenConnectionContext] or to [Dial], or the one autopaho.NewConnection
// received. The scope owns the MQTT connection's sockets and closes them when
// it ends; later reconnects in it are refused.
//
// # Connections lost and reconnects
//
// Every reconnect of paho's or autopaho's connection manager goes through the
// same function, so it opens a new outbound socket under the same options and
// policy. The socket of the lost connection tells why it ended: set
// [Options].OnSocketClosed to receive each socket and its [sockets.Socket.Err]
// (nil for a clean ending such as the broker's orderly close, a connection
// reset or TLS error otherwise) as it ends.
package mqtt
