package smtp

import (
	"context"
	"crypto/tls"
	"io"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/internal/ctxclose"
	"github.com/outboundhq/outbound/sockets"
)

// Dial connects to the SMTP server at addr ("host:port") over a plaintext
// outbound socket and returns a go-smtp client that has exchanged the
// greeting and EHLO. Nothing is encrypted, so it needs
// [Options.AllowPlaintext]; without it Dial fails with [ErrPlaintext] before
// connecting. Use [DialStartTLS] or [DialTLS] to reach a submission server.
//
// ctx bounds the connect and the exchange up to the returned client, not the
// client's life. The caller closes the client (Quit or Close).
func Dial(ctx context.Context, addr string, opts *Options) (*gosmtp.Client, error) {
	c, _, err := dialPlain(ctx, addr, options(opts))
	return c, err
}

// DialTLS connects to the SMTP server at addr with implicit TLS (port 465):
// the socket uses SecureTransport "on", so TLS starts with the first byte and
// certificate errors surface here. The returned client has exchanged the
// greeting and EHLO over TLS.
//
// The TLS is the socket's, not go-smtp's, so the client's
// TLSConnectionState reports ok == false even though every byte is
// encrypted.
//
// ctx bounds the connect, the handshake and the exchange up to the returned
// client, not the client's life.
func DialTLS(ctx context.Context, addr string, opts *Options) (*gosmtp.Client, error) {
	o := options(opts)
	cfg := o.tlsConfig(addr)
	sock, err := connect(ctx, addr, o, sockets.SecureTransportOn, cfg)
	if err != nil {
		return nil, err
	}
	w := watch(ctx, sock)
	c := gosmtp.NewClient(sock)
	if err := c.Hello(o.localName()); err != nil {
		c.Close()
		return nil, w.fail(ctx, "EHLO", addr, err)
	}
	if err := w.done(ctx, "EHLO", addr); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// DialStartTLS connects to the SMTP server at addr (port 587) over a plain
// outbound socket and upgrades the connection with go-smtp's own STARTTLS
// (smtp.NewClientStartTLS), then says EHLO over TLS with
// [Options.LocalName].
//
// When the server does not offer STARTTLS, DialStartTLS fails with
// [ErrNoStartTLS]; with [Options.AllowPlaintext] it instead returns a
// plaintext client (over a second connection, since go-smtp closes the
// first), whose TLSConnectionState reports ok == false.
//
// ctx bounds the connect, STARTTLS, the handshake and the exchange up to the
// returned client, not the client's life.
func DialStartTLS(ctx context.Context, addr string, opts *Options) (*gosmtp.Client, error) {
	c, _, err := dialStartTLS(ctx, addr, options(opts))
	return c, err
}

// goSMTPNoStartTLS is the text of go-smtp's (unexported) error for a server
// without STARTTLS; a test pins it.
const goSMTPNoStartTLS = "smtp: server doesn't support STARTTLS"

func dialStartTLS(ctx context.Context, addr string, o *Options) (*gosmtp.Client, bool, error) {
	sock, err := connect(ctx, addr, o, sockets.SecureTransportOff, nil)
	if err != nil {
		return nil, false, err
	}
	w := watch(ctx, sock)
	c, err := gosmtp.NewClientStartTLS(sock, o.tlsConfig(addr))
	if err != nil {
		sock.Close()
		if err.Error() != goSMTPNoStartTLS {
			return nil, false, w.fail(ctx, "STARTTLS", addr, err)
		}
		if err := w.done(ctx, "STARTTLS", addr); err != nil {
			return nil, false, err
		}
		if !o.AllowPlaintext {
			return nil, false, &Error{Op: "STARTTLS", Addr: addr, Err: noStartTLS(addr)}
		}
		return dialPlain(ctx, addr, o)
	}
	// The TLS handshake runs with this EHLO.
	if err := c.Hello(o.localName()); err != nil {
		c.Close()
		return nil, false, w.fail(ctx, "EHLO after STARTTLS", addr, err)
	}
	if err := w.done(ctx, "EHLO after STARTTLS", addr); err != nil {
		c.Close()
		return nil, false, err
	}
	return c, true, nil
}

func dialPlain(ctx context.Context, addr string, o *Options) (*gosmtp.Client, bool, error) {
	if !o.AllowPlaintext {
		return nil, false, &Error{Op: "dial", Addr: addr, Err: errorf(ErrPlaintext, "mail (and any credentials) would cross the network unencrypted; use DialStartTLS or DialTLS, or set Options.AllowPlaintext")}
	}
	sock, err := connect(ctx, addr, o, sockets.SecureTransportOff, nil)
	if err != nil {
		return nil, false, err
	}
	w := watch(ctx, sock)
	c := gosmtp.NewClient(sock)
	if err := c.Hello(o.localName()); err != nil {
		c.Close()
		return nil, false, w.fail(ctx, "EHLO", addr, err)
	}
	if err := w.done(ctx, "EHLO", addr); err != nil {
		c.Close()
		return nil, false, err
	}
	return c, false, nil
}

func noStartTLS(addr string) error {
	return errorf(ErrNoStartTLS, "the server at "+addr+" did not list STARTTLS in its EHLO reply; use DialTLS if it speaks implicit TLS (port 465), check the port (submission is 587), or set Options.AllowPlaintext to continue unencrypted")
}

// connect opens an outbound socket to addr and waits until it is open.
func connect(ctx context.Context, addr string, o *Options, st sockets.SecureTransport, cfg *tls.Config) (*sockets.Socket, error) {
	d, err := o.dialer()
	if err != nil {
		return nil, &Error{Op: "dial", Addr: addr, Err: err}
	}
	if st == sockets.SecureTransportOff {
		cfg = nil
	}
	sock, err := d.DialSocket(ctx, addr, st, cfg)
	if err != nil {
		return nil, &Error{Op: "dial", Addr: addr, Err: ctxErr(ctx, err)}
	}
	return sock, nil
}

// ctxWatch closes the connection under a client when ctx ends, which
// unblocks whatever the client is doing (go-smtp sets its own deadlines on the
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
