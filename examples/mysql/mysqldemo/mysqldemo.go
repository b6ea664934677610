// Package mysqldemo is the mysql example, run by `go run ./examples/mysql` and by
// the tour. It connects to MySQL or MariaDB through an outbound socket with
// go-sql-driver/mysql and runs a query.
//
//	go run ./examples/mysql                                      # root@tcp(127.0.0.1:3306)/test
//	go run ./examples/mysql -dsn 'app:secret@tcp(db.internal:3306)/shop?tls=true'
//	go run ./examples/mysql -ca .ci/certs/ca.pem                  # TLS verified against that CA
//
// The driver keeps everything it usually does (DSN, pool, prepared
// statements, TLS inside MySQL's handshake); only the TCP connection under it
// is an outbound socket, so the egress policy decides whether it may open.
package mysqldemo

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/outboundhq/outbound/examples/internal/example"
	outmysql "github.com/outboundhq/outbound/mysql"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("mysql")
	dsn := fs.String("dsn", "root@tcp(127.0.0.1:3306)/test", "go-sql-driver/mysql `DSN` of the server")
	caFile := fs.String("ca", "", "PEM `file` of the CA that signed the server's certificate: TLS required and verified against it (default: as the DSN says)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	cfg, err := gomysql.ParseDSN(*dsn)
	if err != nil {
		return err
	}
	if *caFile != "" {
		roots, err := example.LoadCA(*caFile)
		if err != nil {
			return err
		}
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return fmt.Errorf("-dsn address %q: %w", cfg.Addr, err)
		}
		// The driver does TLS inside MySQL's handshake; with a config
		// set, it refuses a server that does not offer TLS.
		cfg.TLS = &tls.Config{RootCAs: roots, ServerName: host}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	// The usual driver configuration, with its dial function replaced by
	// outbound's. Wrapping it is optional: here it reports each socket.
	dial := outmysql.DialFunc(&outmysql.Options{Dialer: fs.Dialer()})
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if s, ok := outmysql.SocketOf(c); ok {
			info, _ := s.Opened(ctx)
			fmt.Fprintf(stdout, "opened an outbound socket to %s (secureTransport %q) from %s\n", info.RemoteAddress, s.SecureTransport(), info.LocalAddress)
		}
		return c, nil
	}
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()

	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "server version: %s\n", version)

	var answer int
	if err := db.QueryRowContext(ctx, "SELECT ? * ?", 6, 7).Scan(&answer); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "SELECT 6 * 7 = %d\n", answer)

	// TLS, when the DSN asks for it (tls=true, ...), is negotiated by the
	// driver inside MySQL's handshake, over the plain socket.
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		return err
	}
	if cipher == "" && cfg.TLS != nil {
		return errors.New("the server says this session is not encrypted, though TLS was required")
	}
	if cipher == "" {
		cipher = "none (add tls=true to the DSN, or -ca, to encrypt)"
	}
	fmt.Fprintf(stdout, "TLS cipher, as the server sees it: %s\n", cipher)
	return nil
}
