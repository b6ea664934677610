package dialers

import (
	"context"
	"crypto/tls"
	"net"
	"time"

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
// tlsConfig means plain TCP. tlsConfig is cloned; its ServerName defaults
// to the host of each address dialed, which suits a cluster's nodes.
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
// The connections are *sockets.Socket values, except where the socket
// cannot expose its descriptor (TLS, or an Options.Dial connection without
// one): go-redis's
// health check of pooled connections would then drop each one after use,
// so they come wrapped in a net.Conn without a SyscallConn method, whose
// Socket method returns the socket.
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
		s := c.(*sockets.Socket)
		if _, err := s.SyscallConn(); err != nil {
			return redisConn{s}, nil
		}
		return s, nil
	}
}

// redisConn is a socket without its SyscallConn method. go-redis checks a
// pooled connection's health through syscall.Conn before each use, and
// drops the connection when SyscallConn fails, which it does for a TLS
// socket (and for one whose Options.Dial returns a connection without a
// descriptor): every command would then pay for a new connection. Without the method, go-redis skips
// the check, as it does for a *tls.Conn.
type redisConn struct{ s *sockets.Socket }

func (c redisConn) Read(b []byte) (int, error)         { return c.s.Read(b) }
func (c redisConn) Write(b []byte) (int, error)        { return c.s.Write(b) }
func (c redisConn) Close() error                       { return c.s.Close() }
func (c redisConn) LocalAddr() net.Addr                { return c.s.LocalAddr() }
func (c redisConn) RemoteAddr() net.Addr               { return c.s.RemoteAddr() }
func (c redisConn) SetDeadline(t time.Time) error      { return c.s.SetDeadline(t) }
func (c redisConn) SetReadDeadline(t time.Time) error  { return c.s.SetReadDeadline(t) }
func (c redisConn) SetWriteDeadline(t time.Time) error { return c.s.SetWriteDeadline(t) }

// ConnectionState returns the socket's TLS state.
func (c redisConn) ConnectionState() tls.ConnectionState { return c.s.ConnectionState() }

// Socket returns the outbound socket.
func (c redisConn) Socket() *sockets.Socket { return c.s }
