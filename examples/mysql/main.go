// Command mysql connects to MySQL or MariaDB through an outbound socket with
// go-sql-driver/mysql and runs a query.
//
//	go run ./examples/mysql                                      # root@tcp(127.0.0.1:3306)/test
//	go run ./examples/mysql -dsn 'app:secret@tcp(db.internal:3306)/shop?tls=true'
//
// The driver keeps everything it usually does (DSN, pool, prepared
// statements, TLS inside MySQL's handshake); only the TCP connection under it
// is an outbound socket, so the egress policy decides whether it may open.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	outmysql "github.com/outboundhq/outbound/mysql"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mysql:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mysql", flag.ContinueOnError)
	dsn := fs.String("dsn", "root@tcp(127.0.0.1:3306)/test", "go-sql-driver/mysql `DSN` of the server")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := gomysql.ParseDSN(*dsn)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	// The usual driver configuration, with its dial function replaced by
	// outbound's. Wrapping it is optional: here it reports each socket.
	dial := outmysql.DialFunc(nil)
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
	if cipher == "" {
		cipher = "none (add tls=true to the DSN to encrypt)"
	}
	fmt.Fprintf(stdout, "TLS cipher, as the server sees it: %s\n", cipher)
	return nil
}
