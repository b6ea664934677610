// Package ftpdemo is the ftp example, run by `go run ./examples/ftp` and by
// the tour. It uploads a file to an FTP server with explicit TLS (AUTH TLS,
// the FTP form of StartTLS), reads it back and checks its SHA-256, with
// github.com/jlaffaye/ftp as the client and every connection, control and
// data, an outbound socket.
//
//	go run ./examples/ftp                            # against an in-process FTP server
//	FTP_PASSWORD=... go run ./examples/ftp -addr ftp.example.com:21 -user alice
//	go run ./examples/ftp -addr 127.0.0.1:2121 -user outbound -ca ca.pem   # vsftpd, password in $FTP_PASSWORD
//
// FTP uses one connection for commands and a new one for each transfer: the
// client sends EPSV (or PASV), the server answers with a port, and the
// client connects there. dialers.FTPDialFunc opens both kinds as outbound
// sockets, so the egress policy judges each data connection too: a server
// cannot point the client at an address the policy does not allow.
//
// Who does TLS: jlaffaye/ftp upgrades the control connection itself after
// AUTH TLS (a *tls.Conn over the plain socket); on the data connections,
// which jlaffaye/ftp leaves to the dial function once PROT P is set, the
// socket does it (Socket.StartTLS). With a session cache in the TLS config
// the data connections resume the control connection's TLS session, which
// many servers require.
//
// With no -addr it starts an in-process server (internal/ftpfake: user
// alice, a throwaway certificate authority, files in memory), so it runs
// anywhere.
package ftpdemo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/internal/ftpfake"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("ftp")
	addr := fs.String("addr", "", "FTP server `host:port` (default: an in-process server)")
	user := fs.String("user", "alice", "user `name`; the password is read from $FTP_PASSWORD")
	caFile := fs.String("ca", "", "PEM `file` of the certificate authority to trust (default: the system roots)")
	size := fs.Int("size", 1<<20, "size in `bytes` of the file uploaded")
	remote := fs.String("remote", "outbound-example.bin", "remote file `name` (deleted afterwards)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	if *size < 0 || *size > ftpfake.MaxFile {
		return fmt.Errorf("-size %d: give 0 to %d bytes", *size, ftpfake.MaxFile)
	}
	password := os.Getenv("FTP_PASSWORD")

	cfg := &tls.Config{ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *caFile)
		}
	}
	if *addr == "" {
		var srv *sockettest.Server
		var err error
		srv, password, err = startServer(*user, cfg)
		if err != nil {
			return err
		}
		defer srv.Close()
		*addr = srv.Addr()
		fmt.Fprintf(stdout, "in-process FTP server (AUTH TLS required, PROT P) on %s, user %s\n", *addr, *user)
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", *addr, err)
	}
	// jlaffaye/ftp verifies the control connection with ServerName.
	cfg.ServerName = host

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// Keep every connection the session opens, to show what they were.
	var mu sync.Mutex
	var conns []net.Conn
	dial := dialers.FTPDialFunc(ctx, fs.Dialer(), *addr, cfg)
	c, err := ftp.Dial(*addr,
		ftp.DialWithDialFunc(func(network, address string) (net.Conn, error) {
			conn, err := dial(network, address)
			if err == nil {
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
			}
			return conn, err
		}),
		ftp.DialWithExplicitTLS(cfg),
		ftp.DialWithTimeout(30*time.Second))
	if err != nil {
		return err
	}
	defer c.Quit()
	if err := c.Login(*user, password); err != nil {
		return fmt.Errorf("login as %s: %w", *user, err)
	}
	fmt.Fprintf(stdout, "logged in to %s as %s over AUTH TLS\n", *addr, *user)

	payload := make([]byte, *size)
	mrand.NewChaCha8([32]byte{}).Read(payload) // the same bytes every run
	sum := sha256.Sum256(payload)
	if err := c.Stor(*remote, bytes.NewReader(payload)); err != nil {
		return fmt.Errorf("STOR %s: %w", *remote, err)
	}
	fmt.Fprintf(stdout, "STOR %s: %d bytes, sha256 %s\n", *remote, len(payload), hex.EncodeToString(sum[:8]))
	if n, err := c.FileSize(*remote); err != nil || n != int64(len(payload)) {
		return fmt.Errorf("SIZE %s = %d, %v; want %d", *remote, n, err, len(payload))
	}
	r, err := c.Retr(*remote)
	if err != nil {
		return fmt.Errorf("RETR %s: %w", *remote, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("RETR %s: %w", *remote, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum[:]) {
		return fmt.Errorf("RETR %s: %d bytes with sha256 %x, want %x", *remote, n, got, sum)
	}
	fmt.Fprintf(stdout, "RETR %s: %d bytes, sha256 matches\n", *remote, n)
	if err := c.Delete(*remote); err != nil {
		return fmt.Errorf("DELE %s: %w", *remote, err)
	}

	mu.Lock()
	defer mu.Unlock()
	for i, conn := range conns {
		fmt.Fprintf(stdout, "connection %d: %s\n", i+1, describe(conn, i == 0))
	}
	return nil
}

// describe says what a connection from FTPDialFunc was.
func describe(c net.Conn, control bool) string {
	if control {
		return "control, outbound socket, TLS by jlaffaye/ftp after AUTH TLS"
	}
	st, ok := c.(interface {
		SecureTransport() sockets.SecureTransport
		ConnectionState() tls.ConnectionState
	})
	if !ok {
		return fmt.Sprintf("data, %T", c)
	}
	state := st.ConnectionState()
	if !state.HandshakeComplete {
		return "data, outbound socket, plain"
	}
	resumed := ""
	if state.DidResume {
		resumed = ", session resumed"
	}
	return "data, outbound socket, TLS by the socket (" + tls.VersionName(state.Version) + resumed + ")"
}

// startServer starts the in-process server with a throwaway certificate
// authority that cfg then trusts, and returns it with a password for user.
func startServer(user string, cfg *tls.Config) (*sockettest.Server, string, error) {
	ca, err := sockettest.NewCA()
	if err != nil {
		return nil, "", err
	}
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		return nil, "", err
	}
	cfg.RootCAs = ca.Pool()
	const password = "correct horse battery staple"
	srv, err := sockettest.NewServer(ftpfake.New(srvCfg, user, password).Serve)
	return srv, password, err
}
