package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
)

// DialFunc returns a dial function for the driver's Config.DialFunc that opens
// every connection as an outbound socket with opts, waiting until it is open,
// so that connect errors and policy denials surface when the driver connects.
//
// network must be "tcp", "tcp4" or "tcp6" (the DSN's protocol, "tcp" by
// default); outbound sockets are TCP only. ctx bounds the connect attempt
// only, not the connection's life. A nil opts means the defaults; opts is
// copied. SecureTransport must be empty or "off", since MySQL negotiates TLS
// inside its handshake (see the package documentation); with any other value
// every dial fails with an error wrapping [sockets.ErrInvalidOptions].
//
// The connections it returns carry the socket (see [SocketOf]); see the
// package documentation for the driver's liveness check. The returned function is safe for concurrent use.
func DialFunc(opts *sockets.Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d, err := newDialer(opts)
	if err != nil {
		return func(context.Context, string, string) (net.Conn, error) { return nil, err }
	}
	return d.dial
}

// NewConnector returns a driver.Connector for cfg whose connections are
// outbound sockets opened with opts (see [DialFunc]). cfg is cloned, never
// modified; a DialFunc already set in it is replaced; a nil cfg means the
// driver's NewConfig(). cfg.Net must be "tcp" (or
// empty); the error for anything else, like the error for opts holding TLS
// settings, wraps [sockets.ErrInvalidOptions]. Use it with [sql.OpenDB].
func NewConnector(cfg *gomysql.Config, opts *sockets.Options) (driver.Connector, error) {
	if cfg == nil {
		cfg = gomysql.NewConfig()
	} else {
		cfg = cfg.Clone()
	}
	if err := checkNetwork(cfg.Net); err != nil {
		return nil, err
	}
	d, err := newDialer(opts)
	if err != nil {
		return nil, err
	}
	cfg.DialFunc = d.dial
	return gomysql.NewConnector(cfg)
}

// OpenDB is [sql.OpenDB] over [NewConnector]: a connection pool whose
// connections are outbound sockets. Like sql.Open it does not connect; use
// [sql.DB.PingContext] to check the server is reachable.
func OpenDB(cfg *gomysql.Config, opts *sockets.Options) (*sql.DB, error) {
	c, err := NewConnector(cfg, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// Open parses dsn with the driver's ParseDSN and calls [OpenDB]. The DSN's
// protocol must be tcp ("user@tcp(host:3306)/db", or no protocol at all).
func Open(dsn string, opts *sockets.Options) (*sql.DB, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return OpenDB(cfg, opts)
}

// Register registers a dial function with the driver under network (with
// the driver's RegisterDialContext), so that DSNs naming that protocol, such
// as "user@outbound(db.internal:3306)/shop", connect through outbound sockets
// opened with opts (see [DialFunc] for what opts may hold).
//
// The registration is process-wide state kept by the driver: it applies to
// every DSN in the program that names network, and a later Register (or the
// driver's RegisterDialContext) with the same name replaces it. Register it
// once, at start-up; remove it with the driver's DeregisterDialContext.
// Registering "tcp" sends every plain TCP DSN through outbound. Prefer
// [NewConnector] or [OpenDB] where the code can take a Config.
func Register(network string, opts *sockets.Options) error {
	if network == "" {
		return fmt.Errorf("outbound/mysql: Register needs a network name, such as \"outbound\", to use in DSNs: %w", sockets.ErrInvalidOptions)
	}
	d, err := newDialer(opts)
	if err != nil {
		return err
	}
	gomysql.RegisterDialContext(network, func(ctx context.Context, addr string) (net.Conn, error) {
		return d.connect(ctx, addr)
	})
	return nil
}

// dialer opens the driver's connections; it is immutable once built.
type dialer struct {
	d dialers.Dialer
}

func newDialer(opts *sockets.Options) (*dialer, error) {
	var o sockets.Options
	if opts != nil {
		o = *opts
	}
	switch o.SecureTransport {
	case "", sockets.SecureTransportOff:
	default:
		return nil, fmt.Errorf("outbound/mysql: SecureTransport %q is not supported: MySQL negotiates TLS inside its own handshake, so leave SecureTransport \"off\" and set tls=true (or another tls= value, or Config.TLS) in the driver's configuration: %w",
			o.SecureTransport, sockets.ErrInvalidOptions)
	}
	if o.TLSConfig != nil {
		return nil, fmt.Errorf("outbound/mysql: TLSConfig is set in the socket options, but MySQL negotiates TLS inside its own handshake: drop it and set the driver's Config.TLS (or register it with the driver's RegisterTLSConfig and name it with tls= in the DSN): %w",
			sockets.ErrInvalidOptions)
	}
	return &dialer{d: dialers.Dialer{Options: &o}}, nil
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := checkNetwork(network); err != nil {
		return nil, err
	}
	return d.connect(ctx, addr)
}

func checkNetwork(network string) error {
	switch network {
	case "", "tcp", "tcp4", "tcp6":
		return nil
	}
	return fmt.Errorf("outbound/mysql: protocol %q is not supported: outbound sockets are TCP, so use tcp(host:port) in the DSN (or Config.Net \"tcp\"): %w",
		network, sockets.ErrInvalidOptions)
}

// connect opens a plain socket to addr and waits for it to open. The
// connection exposes the socket's descriptor, so the driver's liveness check
// (Config.CheckConnLiveness) runs before a pooled connection is reused.
func (d *dialer) connect(ctx context.Context, addr string) (net.Conn, error) {
	s, err := d.d.Connect(ctx, addr, sockets.SecureTransportOff)
	if err != nil {
		return nil, err
	}
	return dialers.WithDescriptor(s), nil
}

// SocketOf returns the socket under c, a connection that the functions of
// this package opened for the driver (as the driver's DialFunc sees it), or
// a *sockets.Socket itself. ok is false for any other net.Conn.
func SocketOf(c net.Conn) (s *sockets.Socket, ok bool) { return dialers.SocketOf(c) }
