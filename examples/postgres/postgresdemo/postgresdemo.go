// Package postgresdemo is the postgres example, run by `go run ./examples/postgres` and by
// the tour. It is the Cloudflare Workers docs' Postgres StartTLS example
// in Go: it opens a socket with secureTransport "starttls", asks the server
// for TLS with PostgreSQL's SSLRequest, upgrades the socket with StartTLS,
// hands the secure socket to pgx and runs a query.
//
//	go run ./examples/postgres -rootcert /etc/ssl/certs/ssl-cert-snakeoil.pem -servername localhost
//	go run ./examples/postgres -url postgres://app:secret@db.example.com:5432/app
//	go run ./examples/postgres -sslmode require     # a self-signed server: encrypted, not verified
//
// In JavaScript, after the Workers docs:
//
//	const socket = connect({ hostname, port: 5432 }, { secureTransport: "starttls" });
//	// ... write the SSLRequest, read the server's 'S' ...
//	const secureSocket = socket.startTls();
//	// speak PostgreSQL over secureSocket
//
// PostgreSQL's upgrade is one exchange before the startup message: the
// client sends an 8-byte SSLRequest (length 8, code 80877103) and the server
// answers with a single byte, 'S' (go ahead with TLS) or 'N' (no TLS here).
//
// Package pg does all of this for every connection of pgx, pgxpool or
// database/sql, keeping sslmode's meaning:
//
//	conn, err := pg.Connect(ctx, url, &pg.Options{SocketTLS: true})
package postgresdemo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("postgres")
	url := fs.String("url", "postgres://postgres@127.0.0.1:5432/test", "PostgreSQL connection `URL` (host, port, user, password, database)")
	rootCert := fs.String("rootcert", "", "PEM `file` of the certificate authority to trust (default: the system roots)")
	serverName := fs.String("servername", "", "`name` the server's certificate must be valid for (default: the URL's host)")
	sslmode := fs.String("sslmode", "verify-full", "`mode`: verify-full (check the certificate and name) or require (encrypt without checking, as psql's sslmode=require: for a self-signed test server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	// pgx parses the URL; its TLS settings are not used, the socket does TLS.
	cfg, err := pgx.ParseConfig(*url)
	if err != nil {
		return err
	}
	tlsConfig := &tls.Config{} // verification on: system roots and the server's name
	switch *sslmode {
	case "verify-full":
	case "require":
		tlsConfig.InsecureSkipVerify = true // asked for by name, and said in the output
	default:
		return fmt.Errorf("-sslmode %q: give verify-full or require", *sslmode)
	}
	if *rootCert != "" {
		pem, err := os.ReadFile(*rootCert)
		if err != nil {
			return err
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *rootCert)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	secure, err := upgrade(ctx, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), *serverName, fs.Options(), tlsConfig, stdout)
	if err != nil {
		return err
	}
	defer secure.Close()

	// Hand the secure socket to pgx: its dial function returns it, and pgx's
	// own TLS is off (the socket already did it), so pgx starts right away
	// with the startup message.
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	handed := false
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if handed {
			return nil, errors.New("this example has one socket; pgx asked for another")
		}
		handed = true
		return secure, nil
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	var version string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&version); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "PostgreSQL %s, user %s, database %s\n", version, cfg.User, cfg.Database)
	var ssl bool
	var tlsVersion string
	err = conn.QueryRow(ctx, "SELECT ssl, coalesce(version, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &tlsVersion)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "the server says: ssl %v, %s\n", ssl, tlsVersion)
	return nil
}

// upgrade opens a "starttls" socket to addr, asks for TLS with an SSLRequest
// and returns the socket that StartTLS gives back.
func upgrade(ctx context.Context, addr, serverName string, opts *sockets.Options, tlsConfig *tls.Config, stdout io.Writer) (*sockets.Socket, error) {
	// connect(address, { secureTransport: "starttls" })
	opts.SecureTransport, opts.TLSConfig = sockets.SecureTransportStartTLS, tlsConfig
	socket, err := sockets.Connect(ctx, addr, opts)
	if err != nil {
		return nil, err // a bad address, or denied by the egress policy
	}
	info, err := socket.Opened(ctx)
	if err != nil {
		socket.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "connected to %s (secureTransport %q)\n", info.RemoteAddress, socket.SecureTransport())

	// SSLRequest: length 8, code 80877103 (1234 << 16 | 5679).
	socket.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := socket.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil {
		socket.Close()
		return nil, err
	}
	// Read exactly one byte: anything after it belongs to TLS.
	answer := make([]byte, 1)
	if _, err := io.ReadFull(socket, answer); err != nil {
		socket.Close()
		return nil, fmt.Errorf("reading the answer to the SSLRequest: %w", err)
	}
	if answer[0] != 'S' {
		socket.Close()
		return nil, fmt.Errorf("the server answered %q to the SSLRequest: it refuses TLS", answer)
	}
	fmt.Fprintln(stdout, "sent SSLRequest, the server answered 'S'")

	// socket.startTls(): the old socket is retired, the new one is secure.
	secure, err := socket.StartTLS(&sockets.StartTLSOptions{ExpectedServerHostname: serverName, Context: ctx})
	if err != nil {
		socket.Close()
		return nil, err
	}
	if _, err := secure.Opened(ctx); err != nil { // the handshake and certificate check
		secure.Close()
		return nil, err
	}
	state := secure.ConnectionState()
	verified := fmt.Sprintf("certificate verified for %q", state.ServerName)
	if tlsConfig.InsecureSkipVerify {
		verified = "certificate NOT verified (-sslmode require)"
	}
	fmt.Fprintf(stdout, "StartTLS: %s, %s; the old socket is upgraded: %v\n",
		tls.VersionName(state.Version), verified, socket.Upgraded())
	return secure, nil
}
