package imap

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/outboundhq/outbound/internal/ctxclose"
	"github.com/outboundhq/outbound/sockets"
)

// DialTLS connects to the IMAP server at addr with implicit TLS (port 993):
// the socket uses SecureTransport "on", so TLS starts with the first byte
// and certificate errors surface here. The returned go-imap client has
// received the server's greeting; log in with its Login or Authenticate.
//
// ctx bounds the connect, the handshake and the greeting, not the client's
// life. The caller closes the client (Logout, then Close).
func DialTLS(ctx context.Context, addr string, opts *Options) (*imapclient.Client, error) {
	o := options(opts)
	co, err := o.clientOptions()
	if err != nil {
		return nil, &Error{Op: "dial", Addr: addr, Err: err}
	}
	cfg := o.tlsConfig(addr)
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"imap"}
	}
	sock, err := connect(ctx, addr, o, sockets.SecureTransportOn, cfg)
	if err != nil {
		return nil, err
	}
	return greet(ctx, addr, sock, imapclient.New(sock, co))
}

// DialStartTLS connects to the IMAP server at addr (port 143) over a plain
// outbound socket and upgrades it with go-imap's own STARTTLS
// (imapclient.NewStartTLS).
//
// Until the upgrade the connection is watched: the server's reply to
// STARTTLS is handed to go-imap one line at a time, so bytes that came with
// the reply (a STARTTLS injection) make the upgrade fail with
// [sockets.ErrPlaintextInjection] instead of being read as if they were
// secure; plaintext that comes later reaches the TLS handshake, which fails
// on it. A greeting of PREAUTH is refused ([ErrPreAuth] or go-imap's own
// error). [DialSocketStartTLS] refuses late plaintext by name too.
//
// When the server refuses STARTTLS, DialStartTLS fails with
// [ErrNoStartTLS]; with [Options.AllowPlaintext] it instead returns a
// plaintext client over a second connection, on which LOGIN and
// AUTHENTICATE are still refused without [Options.AllowInsecureAuth].
//
// ctx bounds the connect, STARTTLS and the handshake, not the client's life.
func DialStartTLS(ctx context.Context, addr string, opts *Options) (*imapclient.Client, error) {
	o := options(opts)
	co, err := o.clientOptions()
	if err != nil {
		return nil, &Error{Op: "dial", Addr: addr, Err: err}
	}
	sock, err := connect(ctx, addr, o, sockets.SecureTransportOff, nil)
	if err != nil {
		return nil, err
	}
	w := watch(ctx, sock)
	g := newGuard(sock, addr, o.AllowInsecureAuth)
	co.TLSConfig = o.tlsConfig(addr)
	c, err := imapclient.NewStartTLS(g, co)
	if err != nil {
		sock.Close()
		if isReply(err) {
			if err := w.done(ctx, "STARTTLS", addr); err != nil {
				return nil, err
			}
			if !o.AllowPlaintext {
				return nil, &Error{Op: "STARTTLS", Addr: addr, Err: noStartTLS(addr, err)}
			}
			return Dial(ctx, addr, o)
		}
		if strings.Contains(err.Error(), "PREAUTH") {
			err = errorf(ErrPreAuth, err.Error())
		}
		return nil, w.fail(ctx, "STARTTLS", addr, err)
	}
	if err := w.done(ctx, "STARTTLS", addr); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Dial connects to the IMAP server at addr over a plaintext outbound socket
// and returns a go-imap client that has received the greeting. Nothing is
// encrypted, so it needs [Options.AllowPlaintext]; without it Dial fails with
// [ErrPlaintext] before connecting. LOGIN and AUTHENTICATE are refused on
// the connection ([ErrInsecureAuth]) unless [Options.AllowInsecureAuth] is
// set.
//
// ctx bounds the connect and the greeting, not the client's life.
func Dial(ctx context.Context, addr string, opts *Options) (*imapclient.Client, error) {
	o := options(opts)
	if !o.AllowPlaintext {
		return nil, &Error{Op: "dial", Addr: addr, Err: errorf(ErrPlaintext, "mail and credentials would cross the network unencrypted; use DialTLS, DialStartTLS or DialSocketStartTLS, or set Options.AllowPlaintext")}
	}
	co, err := o.clientOptions()
	if err != nil {
		return nil, &Error{Op: "dial", Addr: addr, Err: err}
	}
	sock, err := connect(ctx, addr, o, sockets.SecureTransportOff, nil)
	if err != nil {
		return nil, err
	}
	return greet(ctx, addr, sock, imapclient.New(newGuard(sock, addr, o.AllowInsecureAuth), co))
}

// greet waits for the greeting of a new client, bounded by ctx.
func greet(ctx context.Context, addr string, sock *sockets.Socket, c *imapclient.Client) (*imapclient.Client, error) {
	w := watch(ctx, sock)
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, w.fail(ctx, "greeting", addr, err)
	}
	if err := w.done(ctx, "greeting", addr); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func noStartTLS(addr string, cause error) error {
	msg := "the server at " + addr + " does not offer STARTTLS; use DialTLS if it speaks implicit TLS (port 993), check the port (143), or set Options.AllowPlaintext to continue unencrypted"
	if cause != nil {
		msg = fmt.Sprintf("the server at %s refused STARTTLS (%v); use DialTLS if it speaks implicit TLS (port 993), or set Options.AllowPlaintext to continue unencrypted", addr, cause)
	}
	return errorf(ErrNoStartTLS, msg)
}

// connect opens an outbound socket to addr through the Dialer and waits
// until it is open.
func connect(ctx context.Context, addr string, o *Options, st sockets.SecureTransport, cfg *tls.Config) (*sockets.Socket, error) {
	if st == sockets.SecureTransportOff {
		cfg = nil
	}
	sock, err := o.Dialer.DialSocket(ctx, addr, st, cfg)
	if err != nil {
		return nil, &Error{Op: "dial", Addr: addr, Err: ctxErr(ctx, err)}
	}
	return sock, nil
}

// ctxWatch closes the connection under a client when ctx ends, which
// unblocks whatever the client is doing (go-imap sets its own deadlines on the
// connection, so ctx cannot be mapped to deadlines).
type ctxWatch struct{ *ctxclose.Watch }

func watch(ctx context.Context, c io.Closer) *ctxWatch { return &ctxWatch{ctxclose.New(ctx, c)} }

// set makes c the connection closed when ctx ends (after an upgrade).
func (w *ctxWatch) set(c io.Closer) { w.Set(c) }

// done stops watching; it returns an error if ctx ended first (and so may
// have closed the connection).
func (w *ctxWatch) done(ctx context.Context, op, addr string) error {
	if w.Stop() {
		return nil
	}
	return &Error{Op: op, Addr: addr, Err: context.Cause(ctx)}
}

// fail stops watching and returns err as an *Error, naming ctx's error too
// when ctx ended.
func (w *ctxWatch) fail(ctx context.Context, op, addr string, err error) error {
	w.Stop()
	return &Error{Op: op, Addr: addr, Err: ctxErr(ctx, err)}
}

func ctxErr(ctx context.Context, err error) error { return ctxclose.Err(ctx, err) }

// greetedConn is a connection whose Reads first return a greeting generated
// by this package, then the connection's own bytes.
type greetedConn struct {
	net.Conn
	greeting []byte
}

func (g *greetedConn) Read(p []byte) (int, error) {
	if len(g.greeting) > 0 {
		n := copy(p, g.greeting)
		g.greeting = g.greeting[n:]
		return n, nil
	}
	return g.Conn.Read(p)
}
