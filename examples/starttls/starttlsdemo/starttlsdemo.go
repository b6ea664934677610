// Package starttlsdemo is the starttls example, run by `go run ./examples/starttls` and by
// the tour. It shows opportunistic TLS with the Sockets API: a socket
// opened with secureTransport "starttls" talks plain text, asks the server to
// switch to TLS, and then upgrades with StartTLS, which returns a new, secure
// socket and retires the old one.
//
//	go run ./examples/starttls       # against an in-process server with its own throwaway CA
//
// The protocol is a made-up line protocol, small enough to read in one
// glance (C is this program, S the server):
//
//	C: HELLO outbound
//	S: HELLO outbound, STARTTLS available
//	C: STARTTLS
//	S: GO AHEAD
//	   ... TLS handshake; everything below is encrypted ...
//	C: PING
//	S: PONG
//	C: QUIT
//	S: BYE
//
// SMTP, IMAP, POP3, FTP, LDAP, XMPP and PostgreSQL all upgrade this way. In
// JavaScript, after the Workers docs:
//
//	const socket = connect(address, { secureTransport: "starttls" });
//	// ... plain-text exchange that asks for TLS ...
//	const secureSocket = socket.startTls();
//	// from here on, use secureSocket; socket is closed
package starttlsdemo

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("starttls")
	addr := fs.String("addr", "", "`host:port` of a server speaking this line protocol (default: start an in-process one)")
	caFile := fs.String("ca", "", "PEM `file` of the CA that signed that server's certificate (default: the system roots)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()

	var tlsConfig *tls.Config // nil: the system roots
	if *addr == "" {
		srv, ca, err := startServer()
		if err != nil {
			return err
		}
		defer srv.Close()
		*addr = srv.Addr()
		// Trust only the throwaway CA that signed the in-process server's
		// certificate: verification stays on, as it always should.
		tlsConfig = &tls.Config{RootCAs: ca.Pool()}
		fmt.Fprintln(stdout, "started an in-process server with a throwaway CA")
	} else if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *caFile)
		}
		tlsConfig = &tls.Config{RootCAs: pool}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return converse(ctx, *addr, fs.Options(), tlsConfig, stdout)
}

// converse runs the whole exchange and prints what happens.
func converse(ctx context.Context, addr string, opts *sockets.Options, tlsConfig *tls.Config, stdout io.Writer) error {
	// connect(address, { secureTransport: "starttls" }): plain TCP that may
	// be upgraded later. The TLS settings (here, which CA to trust) are given
	// now and used by StartTLS.
	opts.SecureTransport, opts.TLSConfig = sockets.SecureTransportStartTLS, tlsConfig
	socket, err := sockets.Connect(ctx, addr, opts)
	if err != nil {
		return err
	}
	defer socket.Close()
	if _, err := socket.Opened(ctx); err != nil {
		return err
	}
	socket.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(stdout, "connected to %s with secureTransport %q: plain text for now\n", addr, socket.SecureTransport())

	plain := bufio.NewReader(socket)
	if err := exchange(socket, plain, stdout, "HELLO outbound", "HELLO outbound, STARTTLS available"); err != nil {
		return err
	}
	if err := exchange(socket, plain, stdout, "STARTTLS", "GO AHEAD"); err != nil {
		return err
	}
	// Anything the server sent after "GO AHEAD" and before the handshake
	// would be plain text posing as secure: the STARTTLS injection attack.
	// The bufio.Reader may hold such bytes, so refuse to go on if it does.
	// (StartTLS itself refuses bytes still waiting in the connection.)
	if plain.Buffered() != 0 {
		return fmt.Errorf("the server sent %d bytes after GO AHEAD, before the TLS handshake; refusing to upgrade", plain.Buffered())
	}

	// A reader still waiting on the old socket when it is upgraded: the
	// upgrade interrupts it, and it fails rather than read TLS records.
	oldRead := make(chan error, 1)
	go func() {
		_, err := socket.Read(make([]byte, 1))
		oldRead <- err
	}()

	// socket.startTls(): returns the new socket at once; the handshake runs
	// behind it. The expected server name defaults to the connect hostname.
	secure, err := socket.StartTLS(nil)
	if err != nil {
		return err
	}
	defer secure.Close()
	fmt.Fprintln(stdout, "StartTLS returned a new socket; the old one is retired")

	err = <-oldRead
	fmt.Fprintf(stdout, "old socket: the waiting read failed: %v\n", err)
	fmt.Fprintf(stdout, "old socket: errors.Is(err, net.ErrClosed) = %t\n", errors.Is(err, net.ErrClosed))
	select {
	case <-socket.Closed():
		fmt.Fprintf(stdout, "old socket: Closed() fired, Err() = %v, Upgraded() = %t\n", socket.Err(), socket.Upgraded())
	case <-ctx.Done():
		return errors.New("the old socket's Closed() did not fire after StartTLS")
	}

	// secureSocket.opened: waits for the TLS handshake, so a certificate
	// problem surfaces here, not on the first read.
	info, err := secure.Opened(ctx)
	if err != nil {
		return err
	}
	state := secure.ConnectionState()
	fmt.Fprintf(stdout, "new socket: opened to %s from %s; %s, secureTransport %q\n",
		info.RemoteAddress, info.LocalAddress, tls.VersionName(state.Version), secure.SecureTransport())
	if len(state.PeerCertificates) > 0 {
		fmt.Fprintf(stdout, "new socket: the server's certificate (CN=%s) was verified for %s\n",
			state.PeerCertificates[0].Subject.CommonName, secure.Address().Hostname)
	}

	secure.SetDeadline(time.Now().Add(10 * time.Second))
	encrypted := bufio.NewReader(secure)
	if err := exchange(secure, encrypted, stdout, "PING", "PONG"); err != nil {
		return err
	}
	return exchange(secure, encrypted, stdout, "QUIT", "BYE")
}

// exchange sends one line and checks the reply line, printing both.
func exchange(w io.Writer, r *bufio.Reader, stdout io.Writer, send, want string) error {
	if _, err := io.WriteString(w, send+"\r\n"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "C: %s\n", send)
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for %q: %w", want, err)
	}
	line = strings.TrimRight(line, "\r\n")
	fmt.Fprintf(stdout, "S: %s\n", line)
	if line != want {
		return fmt.Errorf("the server answered %q to %s, want %q", line, send, want)
	}
	return nil
}

// startServer starts the in-process server: a scripted peer that plays the
// server's side of the protocol, with a certificate from a throwaway CA.
func startServer() (*sockettest.Server, *sockettest.CA, error) {
	ca, err := sockettest.NewCA()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := ca.ServerConfig() // valid for localhost, 127.0.0.1 and ::1
	if err != nil {
		return nil, nil, err
	}
	srv, err := sockettest.NewScripted(
		sockettest.ExpectLine("HELLO outbound"),
		sockettest.Send("HELLO outbound, STARTTLS available\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("GO AHEAD\r\n"),
		sockettest.StartTLS(cfg),
		sockettest.ExpectLine("PING"),
		sockettest.Send("PONG\r\n"),
		sockettest.ExpectLine("QUIT"),
		sockettest.Send("BYE\r\n"),
		sockettest.CloseConn(),
	)
	if err != nil {
		return nil, nil, err
	}
	return srv, ca, nil
}
