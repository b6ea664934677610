package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/ftpfake"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// vsftpd is the FTP server of the integration tests (AUTH TLS with the CI
// certificate), set up by .ci/setup/51-ftp.sh; compose.yaml has no FTP
// server.
var vsftpd = &server{
	envVar: "OUTBOUND_TEST_FTP",
	start:  "bash .ci/setup/10-certs.sh && bash .ci/setup/51-ftp.sh (as root; see .ci/README.md)",
	addr:   plainAddr,
}

// ftpTLS is the TLS column of the FTP demos: jlaffaye/ftp upgrades the
// control connection itself after AUTH TLS, the socket upgrades each data
// connection (Socket.StartTLS).
const ftpTLS = "driver+starttls"

// demoFTP uploads 64 KiB to an in-process FTP server with explicit TLS
// (internal/ftpfake) and reads it back, with jlaffaye/ftp dialling through
// dialers.FTPDialFunc: the control connection and both data connections are
// outbound sockets.
func demoFTP(ctx context.Context, e *env) error {
	ca, err := sockettest.NewCA()
	if err != nil {
		return err
	}
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		return err
	}
	srv, err := sockettest.NewServer(ftpfake.New(srvCfg, "tour", "secret").Serve)
	if err != nil {
		return err
	}
	defer srv.Close()
	return ftpSession(ctx, e, srv.Addr(), "tour", "secret", &tls.Config{RootCAs: ca.Pool()})
}

// demoVsftpd does the same against vsftpd, verifying its certificate with
// OUTBOUND_TEST_FTP_CA.
func demoVsftpd(ctx context.Context, e *env) error {
	roots, err := loadCA(e.lookup("OUTBOUND_TEST_FTP_CA"))
	if err != nil {
		return fmt.Errorf("%w (set OUTBOUND_TEST_FTP_CA)", err)
	}
	return ftpSession(ctx, e, e.addr, e.lookup("OUTBOUND_TEST_FTP_USER"), e.lookup("OUTBOUND_TEST_FTP_PASSWORD"), &tls.Config{RootCAs: roots})
}

// ftpSession logs in with AUTH TLS, stores 64 KiB, retrieves it and checks
// its SHA-256, and deletes it.
func ftpSession(ctx context.Context, e *env, addr, user, password string, cfg *tls.Config) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	cfg.ServerName = host // jlaffaye/ftp verifies the control connection with it
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)

	var mu sync.Mutex
	var conns []net.Conn
	dial := dialers.FTPDialFunc(ctx, &dialers.Dialer{}, addr, cfg)
	c, err := ftp.Dial(addr,
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
		ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer c.Quit()
	if err := c.Login(user, password); err != nil {
		return fmt.Errorf("login as %s: %w", user, err)
	}
	e.step("logged in to %s as %s over AUTH TLS", addr, user)

	payload := make([]byte, 64<<10)
	mrand.NewChaCha8([32]byte{}).Read(payload)
	sum := sha256.Sum256(payload)
	name := fmt.Sprintf("outbound-tour-%d.bin", time.Now().UnixNano())
	if err := c.Stor(name, bytes.NewReader(payload)); err != nil {
		return fmt.Errorf("STOR %s: %w", name, err)
	}
	defer c.Delete(name)
	r, err := c.Retr(name)
	if err != nil {
		return fmt.Errorf("RETR %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("RETR %s: %w", name, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum[:]) {
		return fmt.Errorf("RETR %s: %d bytes with sha256 %x, want %x", name, n, got, sum)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 3 {
		return fmt.Errorf("the session opened %d outbound sockets, want 3 (control, STOR, RETR)", len(conns))
	}
	for _, data := range conns[1:] {
		// A data socket from FTPDialFunc; the method is the socket's.
		st, ok := data.(interface{ ConnectionState() tls.ConnectionState })
		if !ok || !st.ConnectionState().HandshakeComplete {
			return fmt.Errorf("a data connection (%T) was not TLS by the socket", data)
		}
	}
	e.step("STOR and RETR %d bytes, sha256 %x matches; 3 outbound sockets, data TLS by Socket.StartTLS", n, sum[:8])
	return nil
}
