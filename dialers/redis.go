package dialers

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/outboundhq/outbound/sockets"
)

// RedisDialer returns a dial function for the Dialer field of
// github.com/redis/go-redis/v9's Options (and of its ClusterOptions,
// FailoverOptions, RingOptions and UniversalOptions), so that every
// connection of the client's pool is an outbound socket opened by d (nil
// means the zero Dialer), under d's egress policy.
//
// go-redis applies Options.TLSConfig only in its own dialer: once Dialer is
// set, it no longer does TLS. Pass the TLS settings here instead (for a
// "rediss://" URL, the TLSConfig that redis.ParseURL filled in), and the
// socket does TLS from the first byte (SecureTransport "on"), waiting for
// the handshake so certificate errors surface when the pool dials. A nil
// tlsConfig means plain TCP. tlsConfig is cloned and takes the place of
// d.Options.TLSConfig (give it the roots too); its ServerName defaults to
// the host of each address dialed, which suits a cluster's nodes.
//
//	opt, err := redis.ParseURL("rediss://redis.example.com:6380/0")
//	// ...
//	opt.Dialer = dialers.RedisDialer(d, opt.TLSConfig)
//	rdb := redis.NewClient(opt)
//
// go-redis dials from its pool with a context of its own, not the context a
// command runs with, so a [sockets.Scope] in that context does not reach the
// socket. To tie a client's connections to a scope, give the scope its own
// client and put the scope in the dial context:
//
//	dial := dialers.RedisDialer(d, nil)
//	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
//		return dial(sockets.WithScope(ctx, sc), network, addr)
//	}
//
// The connections come from [WithDescriptor]: plain sockets expose their
// descriptor, so go-redis checks a pooled connection's health before reuse;
// TLS sockets do not, so go-redis skips the check, as for a *tls.Conn.
// [SocketOf] returns the socket.
//
// The returned function is safe for concurrent use. ctx bounds each dial and
// TLS handshake only.
func RedisDialer(d *Dialer, tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if d == nil {
		d = &Dialer{}
	}
	var cfg *tls.Config
	if tlsConfig != nil {
		cfg = tlsConfig.Clone()
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		var err error
		if cfg == nil {
			c, err = d.DialContext(ctx, network, addr)
		} else {
			c, err = d.DialTLSConfigContext(ctx, network, addr, cfg)
		}
		if err != nil {
			return nil, err
		}
		return WithDescriptor(c.(*sockets.Socket)), nil
	}
}
