package mqtt

import (
	"context"
	"net"
	"net/url"

	"github.com/eclipse/paho.golang/autopaho"
)

// AttemptConnection returns a function for paho.golang's (MQTT 5)
// autopaho.ClientConfig.AttemptConnection, so that the connection manager
// opens its first connection and every reconnect as an outbound socket:
//
//	cfg := autopaho.ClientConfig{ServerUrls: urls, AttemptConnection: mqtt.AttemptConnection(nil), ...}
//
// Schemes map to secureTransport as for [OpenConnection]. TLS settings come
// from ClientConfig.TlsCfg when it is set (it is cloned), otherwise from
// opts.Dialer's Options.TLSConfig. The context autopaho passes (the one given to
// autopaho.NewConnection) is the dial's parent, so its values (a request
// scope) apply; ClientConfig.ConnectTimeout bounds the connect and TLS
// handshake. The returned net.Conn is a [*Conn].
func AttemptConnection(opts *Options) func(ctx context.Context, cfg autopaho.ClientConfig, broker *url.URL) (net.Conn, error) {
	o := opts.clone()
	return func(ctx context.Context, cfg autopaho.ClientConfig, broker *url.URL) (net.Conn, error) {
		dctx, cancel := withTimeout(ctx, cfg.ConnectTimeout)
		defer cancel()
		s, err := o.connect(dctx, broker, cfg.TlsCfg)
		if err != nil {
			return nil, err
		}
		return newConn(s), nil
	}
}
