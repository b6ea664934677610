package mqtt

import (
	"context"
	"net"
	"net/url"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// OpenConnection returns a function for paho.mqtt.golang's (MQTT 3.1.1)
// ClientOptions.SetCustomOpenConnectionFn that opens every connection, the
// first and each reconnect, as an outbound socket:
//
//	o := paho.NewClientOptions().AddBroker("mqtts://broker.example:8883")
//	o.SetCustomOpenConnectionFn(mqtt.OpenConnection(nil))
//
// tcp:// and mqtt:// dial with secureTransport "off"; ssl://, tls://, mqtts://
// (and paho's tcps:// and mqtt+ssl://) with "on". TLS settings come from
// ClientOptions.TLSConfig when it is set (it is cloned), otherwise from
// opts.Dialer's Options.TLSConfig; the server name defaults to the broker's
// host. paho's OnConnectAttempt TLS override and ClientOptions.Dialer are not
// seen by a custom open function. ClientOptions.ConnectTimeout bounds the
// connect and TLS handshake. ws://, wss:// and unix:// are refused with
// [ErrUnsupportedScheme].
//
// The returned net.Conn is a *sockets.Socket. The egress policy applies;
// since paho gives this hook no context, use [OpenConnectionContext] to give
// the dials a request scope.
func OpenConnection(opts *Options) paho.OpenConnectionFunc {
	return OpenConnectionContext(context.Background(), opts)
}

// OpenConnectionContext is [OpenConnection] with ctx as the parent of every
// dial: its values (a request scope) apply to each socket, and once ctx is
// done every further connect fails, ending paho's reconnect attempts. ctx
// does not bound the life of a connection already open.
func OpenConnectionContext(ctx context.Context, opts *Options) paho.OpenConnectionFunc {
	o := opts.clone()
	return func(broker *url.URL, co paho.ClientOptions) (net.Conn, error) {
		dctx, cancel := withTimeout(ctx, co.ConnectTimeout)
		defer cancel()
		s, err := o.connect(dctx, broker, co.TLSConfig)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}
