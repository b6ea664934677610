package pg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
)

// Options configure how pgx connections are opened. A nil *Options means the
// defaults: a zero [dialers.Dialer] and TLS done by pgx.
type Options struct {
	// Dialer opens the sockets: "the one dialer" the program's other
	// adapters take the same way. Its Options carry the egress policy, a
	// proxy, layers and the other socket settings. Nil means a zero
	// [dialers.Dialer]. TLS settings come from the connection string
	// (sslmode, sslrootcert, sslcert, sslkey, sslsni), so a Dialer whose
	// Options set SecureTransport or TLSConfig is refused, as is any that
	// [dialers.Dialer.Validate] refuses.
	Dialer *dialers.Dialer

	// SocketTLS makes the socket do TLS ([sockets.Socket.StartTLS] after the
	// SSLRequest, or SecureTransport "on" for sslnegotiation=direct) instead
	// of pgx. See the package documentation for how each sslmode maps.
	SocketTLS bool
}

// ErrTLSRefused is wrapped by the dial error when the server answers 'N' to
// the SSLRequest and the sslmode (require, verify-ca, verify-full) does not
// accept plaintext. Only [Options.SocketTLS] returns it; pgx's own TLS reports
// "server refused TLS connection".
var ErrTLSRefused = errors.New("the PostgreSQL server refused TLS")

// Configure makes cfg dial through outbound sockets. It replaces DialFunc and
// LookupFunc (the lookup returns the hostname unchanged; the socket resolves
// it). With [Options.SocketTLS] it also takes over TLS: TLSConfig and the
// TLSConfig of every fallback are moved into the dial function and cleared,
// and fallbacks that only differed in TLS are merged into one attempt per host.
//
// cfg must come from [pgconn.ParseConfig] (or pgx's, or pgxpool's), with any
// change to Host, Port, TLSConfig or Fallbacks already made. Call Configure
// once per configuration, before connecting: configuring again a
// configuration (or a Copy of one) that SocketTLS has taken over is refused,
// since its TLS settings now live in the dial function. A copy made after
// Configure shares that dial function, which is safe for concurrent use.
// opts is copied; a nil opts means the defaults.
//
// The error reports settings that cannot work as asked (see the package
// documentation); cfg is left unchanged then.
func Configure(cfg *pgconn.Config, opts *Options) error {
	if cfg == nil {
		return errors.New("pg: Configure needs a *pgconn.Config from pgconn.ParseConfig, got nil")
	}
	if configuredForSocketTLS(cfg) {
		return errorf("this configuration was already configured with SocketTLS, which took over its TLS settings; configure a fresh one from ParseConfig (or a Copy made before Configure)")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	d := o.Dialer
	if d == nil {
		d = &dialers.Dialer{}
	}
	if err := checkDialer(d); err != nil {
		return err
	}
	if err := checkHosts(cfg); err != nil {
		return err
	}
	if !o.SocketTLS {
		cfg.DialFunc = d.DialContext
		cfg.LookupFunc = keepHost
		return nil
	}
	st, err := newSocketTLS(cfg, d)
	if err != nil {
		return err
	}
	st.apply(cfg)
	return nil
}

// ConfigureConn is [Configure] for a pgx connection configuration (and for
// [stdlib.OpenDB], which takes one).
func ConfigureConn(cfg *pgx.ConnConfig, opts *Options) error {
	if cfg == nil {
		return errors.New("pg: ConfigureConn needs a *pgx.ConnConfig from pgx.ParseConfig, got nil")
	}
	return Configure(&cfg.Config, opts)
}

// ConfigurePool is [Configure] for a pgxpool configuration: every connection
// the pool opens (health checks and replacements included) dials through
// outbound.
func ConfigurePool(cfg *pgxpool.Config, opts *Options) error {
	if cfg == nil || cfg.ConnConfig == nil {
		return errors.New("pg: ConfigurePool needs a *pgxpool.Config from pgxpool.ParseConfig, got nil")
	}
	return Configure(&cfg.ConnConfig.Config, opts)
}

// Connect parses connString (a URL or keyword/value string, as
// [pgx.ParseConfig]), configures it with opts and connects. ctx bounds the
// connect, as in [pgx.ConnectConfig], and reaches the dialer (scopes, policy).
func Connect(ctx context.Context, connString string, opts *Options) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	if err := ConfigureConn(cfg, opts); err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// NewPool parses connString as [pgxpool.ParseConfig] (pool_max_conns and the
// other pool settings included), configures it with opts and creates the
// pool. ctx is used as in [pgxpool.NewWithConfig]; connections are opened
// lazily, with the ctx of the call that needs one.
func NewPool(ctx context.Context, connString string, opts *Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	if err := ConfigurePool(cfg, opts); err != nil {
		return nil, err
	}
	return pgxpool.NewWithConfig(ctx, cfg)
}

// OpenDB parses connString, configures it with opts and returns a *sql.DB
// backed by pgx's database/sql driver. No connection is made until the DB
// needs one. For stdlib options (such as stdlib.OptionBeforeConnect), call
// [ConfigureConn] and [stdlib.OpenDB] instead.
func OpenDB(connString string, opts *Options) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	if err := ConfigureConn(cfg, opts); err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}

// checkDialer refuses a Dialer whose settings cannot apply to pgx.
func checkDialer(d *dialers.Dialer) error {
	if d.Options != nil {
		if st := d.Options.SecureTransport; st != "" {
			return errorf("the Dialer's Options.SecureTransport is %q, which cannot apply: PostgreSQL starts TLS inside its protocol, so the transport comes from the connection string (sslmode, sslnegotiation); leave SecureTransport empty, and set Options.SocketTLS for TLS done by the socket: %w", st, sockets.ErrInvalidOptions)
		}
		if d.Options.TLSConfig != nil {
			return errorf("the Dialer's Options.TLSConfig cannot apply: pgx takes its TLS settings from the connection string (sslmode, sslrootcert, sslcert, sslkey), with or without Options.SocketTLS; give this adapter a Dialer without TLSConfig and put the roots in sslrootcert: %w", sockets.ErrInvalidOptions)
		}
	}
	if err := d.Validate(); err != nil {
		return errorf("%w", err)
	}
	return nil
}

// checkHosts refuses unix-socket hosts: outbound sockets are TCP.
func checkHosts(cfg *pgconn.Config) error {
	hosts := []string{cfg.Host}
	for _, fb := range cfg.Fallbacks {
		hosts = append(hosts, fb.Host)
	}
	for _, h := range hosts {
		if strings.HasPrefix(h, "/") {
			return errorf("host %q is a unix socket directory (pgx picks one when the connection string names no host); outbound sockets are TCP: name a TCP host (host=127.0.0.1 or the server's name), or connect to the unix socket with pgx alone: %w", h, sockets.ErrInvalidOptions)
		}
	}
	return nil
}

// keepHost is the LookupFunc: the hostname goes to the socket unresolved.
func keepHost(_ context.Context, host string) ([]string, error) {
	return []string{host}, nil
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("pg: "+format, args...)
}
