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

// Options configure how the driver's connections are opened. A nil *Options
// means the defaults: a zero [dialers.Dialer]. Options are copied.
type Options struct {
	// Dialer opens the sockets; its Options carry the egress policy, a
	// proxy, layers and the other socket settings. Nil means a zero
	// [dialers.Dialer]. MySQL negotiates TLS inside its own handshake, so
	// the driver does TLS (tls= in the DSN, Config.TLS): a Dialer whose
	// Options set TLSConfig is refused, as is any refused by
	// [dialers.Dialer.Validate].
	Dialer *dialers.Dialer
}

// DialFunc returns a dial function for the driver's Config.DialFunc that opens
// every connection as an outbound socket with opts' Dialer, waiting until it
// is open, so that connect errors and policy denials surface when the driver
// connects.
//
// network must be "tcp", "tcp4" or "tcp6" (the DSN's protocol, "tcp" by
// default); outbound sockets are TCP only. ctx bounds the connect attempt
// only, not the connection's life. A nil opts means the defaults; opts is
// copied. A Dialer that cannot apply (TLS settings, see [Options.Dialer])
// makes every dial fail with an error wrapping [sockets.ErrInvalidOptions];
// [NewConnector], [OpenDB], [Open] and [Register] report it at once.
//
// The connections it returns carry the socket (see [SocketOf]); see the
// package documentation for the driver's liveness check. The returned function is safe for concurrent use.
func DialFunc(opts *Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d, err := newDialer(opts)
	if err != nil {
		return func(context.Context, string, string) (net.Conn, error) { return nil, err }
	}
	return d.dial
}

// NewConnector returns a driver.Connector for cfg whose connections are
// outbound sockets opened with opts (see [DialFunc]). cfg is cloned, never
// modified; a DialFunc already set in it is replaced; a nil cfg means the
// driver's NewConfig(). cfg.Net must be "tcp" (or empty): a unix socket
// ("unix(/run/mysqld/mysqld.sock)" in a DSN) is refused, since outbound
// sockets are TCP. That error, like the error for a Dialer that cannot
// apply, wraps [sockets.ErrInvalidOptions]. Use it with [sql.OpenDB].
func NewConnector(cfg *gomysql.Config, opts *Options) (driver.Connector, error) {
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
func OpenDB(cfg *gomysql.Config, opts *Options) (*sql.DB, error) {
	c, err := NewConnector(cfg, opts)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

// Open parses dsn with the driver's ParseDSN and calls [OpenDB]. The DSN's
// protocol must be tcp ("user@tcp(host:3306)/db", or no protocol at all).
func Open(dsn string, opts *Options) (*sql.DB, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return OpenDB(cfg, opts)
}

// Register registers a dial function with the driver under network (with
// the driver's RegisterDialContext), so that DSNs naming that protocol, such
// as "user@outbound(db.internal:3306)/shop", connect through outbound sockets
// opened with opts (see [DialFunc] and [Options] for what opts may hold).
//
// The registration is process-wide state kept by the driver: it applies to
// every DSN in the program that names network, and a later Register (or the
// driver's RegisterDialContext) with the same name replaces it. Register it
// once, at start-up; remove it with the driver's DeregisterDialContext.
// Registering "tcp" sends every plain TCP DSN through outbound. Prefer
// [NewConnector] or [OpenDB] where the code can take a Config.
func Register(network string, opts *Options) error {
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
	d *dialers.Dialer
}

func newDialer(opts *Options) (*dialer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	d := o.Dialer
	if d == nil {
		d = &dialers.Dialer{}
	}
	if d.Options != nil && d.Options.SecureTransport != "" {
		return nil, fmt.Errorf("outbound/mysql: the Dialer's Options.SecureTransport is %q, which cannot apply: MySQL negotiates TLS inside its own handshake, so leave SecureTransport empty and set tls=true (or another tls= value, or Config.TLS) in the driver's configuration: %w",
			d.Options.SecureTransport, sockets.ErrInvalidOptions)
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("outbound/mysql: %w", err)
	}
	if d.Options != nil && d.Options.TLSConfig != nil {
		return nil, fmt.Errorf("outbound/mysql: the Dialer's Options.TLSConfig cannot apply: MySQL negotiates TLS inside its own handshake, so the driver does it; give this adapter a Dialer without TLSConfig and set the driver's Config.TLS (or tls= in the DSN, with RegisterTLSConfig for custom roots): %w",
			sockets.ErrInvalidOptions)
	}
	return &dialer{d: d}, nil
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
	return fmt.Errorf("outbound/mysql: protocol %q is not supported: outbound sockets are TCP, so use tcp(host:port) in the DSN (or Config.Net \"tcp\"), or open that connection with the driver alone: %w",
		network, sockets.ErrInvalidOptions)
}

// connect opens a plain socket to addr and waits for it to open. The
// connection exposes the socket's descriptor, so the driver's liveness check
// (Config.CheckConnLiveness) runs before a pooled connection is reused.
func (d *dialer) connect(ctx context.Context, addr string) (net.Conn, error) {
	s, err := d.d.DialSocket(ctx, addr, sockets.SecureTransportOff, nil)
	if err != nil {
		return nil, err
	}
	return dialers.WithDescriptor(s), nil
}

// SocketOf returns the socket under c, a connection that the functions of
// this package opened for the driver (as the driver's DialFunc sees it), or
// a *sockets.Socket itself. ok is false for any other net.Conn.
func SocketOf(c net.Conn) (s *sockets.Socket, ok bool) { return dialers.SocketOf(c) }
