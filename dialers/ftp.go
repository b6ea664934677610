package dialers

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// FTPDialFunc returns a dial function for github.com/jlaffaye/ftp's
// DialWithDialFunc, so that the control connection to addr and every data
// connection of the session are outbound sockets opened by d (nil means the
// zero Dialer), under d's egress policy and the scope ctx carries. Data
// connections go to the address the server announces (EPSV or PASV), so the
// policy judges each of them: a server cannot send the client elsewhere
// (the FTP bounce and SSRF class) without the policy allowing it.
//
// With a nil tlsConfig every connection is plain FTP. With one, pass the same
// config to ftp.DialWithExplicitTLS, which upgrades the control connection
// with AUTH TLS itself; jlaffaye/ftp then sends PROT P but leaves TLS on the
// data connections to the dial function, and this one does it: each data
// socket is upgraded with [sockets.Socket.StartTLS] (so the policy's TLS
// defaults apply). The handshake is not awaited at dial time, because
// servers such as vsftpd accept the data connection only after the client
// has sent RETR or STOR; its errors surface on the first read or write, or
// on the Handshake method that jlaffaye/ftp calls for an empty upload.
//
//	cfg := &tls.Config{ServerName: "ftp.example.com", ClientSessionCache: tls.NewLRUClientSessionCache(0)}
//	c, err := ftp.Dial("ftp.example.com:21",
//		ftp.DialWithDialFunc(dialers.FTPDialFunc(ctx, d, "ftp.example.com:21", cfg)),
//		ftp.DialWithExplicitTLS(cfg))
//
// tlsConfig needs ServerName (jlaffaye/ftp verifies the control connection
// with it); it is cloned for the data connections, which share its
// ClientSessionCache, so with a cache set they resume the control
// connection's TLS session, as servers that require session reuse expect
// (vsftpd's require_ssl_reuse, the default in many setups).
//
// A call whose address is addr, exactly as given to ftp.Dial, opens a
// control connection; any other address a data connection. Data connections
// go to the IP address the control connection reached (or, with
// ftp.DialWithTrustPasvIP, the one the server announces), so a policy that
// allows the server by hostname only must allow that address too. Through
// an egress proxy (d.Options.Proxy) the control connection's peer address is
// the proxy's, which jlaffaye/ftp takes for the server's: a data address
// that names it is dialed at the control connection's host instead (by
// name, resolved by the proxy), with the port the server announced.
//
// ctx bounds each connect attempt and carries the scope; it must outlive the
// FTP session, since data connections are dialed throughout it. The
// returned function is safe for concurrent use.
func FTPDialFunc(ctx context.Context, d *Dialer, addr string, tlsConfig *tls.Config) func(network, address string) (net.Conn, error) {
	if d == nil {
		d = &Dialer{}
	}
	var cfg *tls.Config
	if tlsConfig != nil {
		cfg = tlsConfig.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
	}
	host, _, _ := net.SplitHostPort(addr)
	proxied := false
	if d.Options != nil && d.Options.Proxy != nil {
		if a, err := sockets.ParseAddress(addr); err == nil {
			f, err := d.Options.Proxy.ProxyFor(a)
			proxied = err == nil && f != nil
		}
	}
	var mu sync.Mutex
	var proxyHost string // the control socket's peer, when it is a proxy
	return func(network, address string) (net.Conn, error) {
		if address == addr {
			c, err := d.DialContext(ctx, network, address)
			if err == nil && proxied {
				if h, _, err := net.SplitHostPort(c.RemoteAddr().String()); err == nil {
					mu.Lock()
					proxyHost = h
					mu.Unlock()
				}
			}
			return c, err
		}
		if proxied {
			mu.Lock()
			p := proxyHost
			mu.Unlock()
			if h, port, err := net.SplitHostPort(address); err == nil && h == p {
				address = net.JoinHostPort(host, port)
			}
		}
		if cfg == nil {
			return d.DialContext(ctx, network, address)
		}
		return dialFTPData(ctx, d, address, cfg)
	}
}

// dialFTPData opens a data connection with TLS by the socket, without
// waiting for the handshake.
func dialFTPData(ctx context.Context, d *Dialer, address string, cfg *tls.Config) (net.Conn, error) {
	// DialSocket waits for the TCP connection, so a refused or denied address
	// fails here; jlaffaye/ftp always dials "tcp".
	s, err := d.DialSocket(ctx, address, sockets.SecureTransportStartTLS, nil)
	if err != nil {
		return nil, err
	}
	secure, err := s.StartTLS(&sockets.StartTLSOptions{TLSConfig: cfg})
	if err != nil {
		s.Close()
		return nil, err
	}
	return &ftpDataConn{Socket: secure, ctx: ctx}, nil
}

// ftpDataConn is a data socket whose TLS handshake runs behind it; Handshake
// waits for it, as jlaffaye/ftp asks of a *tls.Conn after an empty upload.
//
// Close of an upload half-closes first and waits for the server's end: a
// TLS 1.3 server sends session tickets after the handshake that an uploader
// never reads, and closing a TCP connection with unread data makes the
// kernel send RST, which can discard the end of the upload before the server
// has read it (vsftpd then answers 426 "Failure reading network stream").
type ftpDataConn struct {
	*sockets.Socket
	ctx    context.Context
	upload atomic.Bool
}

// ftpDrain bounds how long Close of an upload waits for the server's end of
// the data connection, and how much it reads meanwhile.
const (
	ftpDrainTimeout = 5 * time.Second
	ftpDrainLimit   = 64 << 10
)

// Handshake waits for the TLS handshake and returns its error.
func (c *ftpDataConn) Handshake() error {
	c.upload.Store(true) // jlaffaye/ftp calls it for an empty upload only
	_, err := c.Opened(c.ctx)
	return err
}

// Write marks the connection as an upload and writes b.
func (c *ftpDataConn) Write(b []byte) (int, error) {
	c.upload.Store(true)
	return c.Socket.Write(b)
}

// ReadFrom marks the connection as an upload and copies r to it.
func (c *ftpDataConn) ReadFrom(r io.Reader) (int64, error) {
	c.upload.Store(true)
	return c.Socket.ReadFrom(r)
}

// Close closes the data connection; after an upload it first sends
// close_notify and FIN, and waits (boundedly) for the server to close.
func (c *ftpDataConn) Close() error {
	if c.upload.Load() && c.Socket.CloseWrite() == nil {
		c.Socket.SetReadDeadline(time.Now().Add(ftpDrainTimeout))
		io.Copy(io.Discard, io.LimitReader(c.Socket, ftpDrainLimit))
	}
	return c.Socket.Close()
}
