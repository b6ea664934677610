package smtp

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/sockets"
)

// DialSocketStartTLS connects to the SMTP server at addr (port 587) and does
// STARTTLS the Sockets API way: the socket is opened with SecureTransport
// "starttls", this function carries the SMTP dialogue itself (greeting,
// EHLO, STARTTLS) up to the server's 220 reply, upgrades the socket with
// [sockets.Socket.StartTLS], and hands the secure socket to a go-smtp
// client, which says EHLO again over TLS.
//
// Nothing the server sent after its reply to STARTTLS is handed on as if it
// were secure: bytes that arrive with the reply or after it, before the
// handshake (a STARTTLS injection), make the upgrade fail with
// [sockets.ErrPlaintextInjection], as do bytes the server sends unasked
// after its EHLO reply.
//
// When the server does not offer STARTTLS, DialSocketStartTLS fails with
// [ErrNoStartTLS], or with [Options.AllowPlaintext] returns a plaintext
// client over the same connection.
//
// The TLS is the socket's, not go-smtp's, so the client's TLSConnectionState
// reports ok == false even though every byte after STARTTLS is encrypted.
//
// ctx bounds the connect, the dialogue, the handshake and the EHLO over TLS,
// not the client's life.
func DialSocketStartTLS(ctx context.Context, addr string, opts *Options) (*gosmtp.Client, error) {
	c, _, err := dialSocketStartTLS(ctx, addr, options(opts))
	return c, err
}

// afterGreeting is the greeting a go-smtp client reads from a connection
// whose real greeting this package has already read: go-smtp's client
// always starts by reading a 220 reply, and servers do not greet again after
// STARTTLS. It is generated here, never taken from plaintext.
const afterGreeting = "220 greeting already received\r\n"

func dialSocketStartTLS(ctx context.Context, addr string, o *Options) (*gosmtp.Client, bool, error) {
	cfg := o.tlsConfig(addr)
	sock, err := connect(ctx, addr, o, sockets.SecureTransportStartTLS, cfg)
	if err != nil {
		return nil, false, err
	}
	w := watch(ctx, sock)
	fail := func(op string, err error) (*gosmtp.Client, bool, error) {
		sock.Close()
		return nil, false, w.fail(ctx, op, addr, err)
	}

	br := bufio.NewReaderSize(sock, 512)
	tp := textproto.NewReader(br)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fail("greeting", smtpErr(err))
	}
	name := o.localName()
	if err := validateLine(name); err != nil {
		return fail("EHLO", err)
	}
	if _, err := io.WriteString(sock, "EHLO "+name+"\r\n"); err != nil {
		return fail("EHLO", err)
	}
	_, msg, err := tp.ReadResponse(250)
	if err != nil {
		return fail("EHLO", smtpErr(err))
	}
	if n := br.Buffered(); n > 0 {
		return fail("EHLO", errorf(sockets.ErrPlaintextInjection, "the server sent "+strconv.Itoa(n)+" bytes after its EHLO reply without being asked; refusing to go on"))
	}
	if !hasExtension(msg, "STARTTLS") {
		if !o.AllowPlaintext {
			io.WriteString(sock, "QUIT\r\n")
			return fail("STARTTLS", noStartTLS(addr))
		}
		// Go on in plaintext over the same connection; go-smtp says EHLO
		// again, which RFC 5321 allows at any time.
		c := gosmtp.NewClient(&greetedConn{Conn: sock, greeting: []byte(afterGreeting)})
		if err := c.Hello(name); err != nil {
			c.Close()
			return nil, false, w.fail(ctx, "EHLO", addr, err)
		}
		if err := w.done(ctx, "EHLO", addr); err != nil {
			c.Close()
			return nil, false, err
		}
		return c, false, nil
	}

	// The upgrade point is the end of the 220 reply. Bytes that came with
	// it are in br's buffer: refuse them. Bytes that come after it are left
	// in the socket, where StartTLS refuses them (ErrPlaintextInjection).
	if _, err := io.WriteString(sock, "STARTTLS\r\n"); err != nil {
		return fail("STARTTLS", err)
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fail("STARTTLS", smtpErr(err))
	}
	if n := br.Buffered(); n > 0 {
		return fail("STARTTLS", errorf(sockets.ErrPlaintextInjection, "the server sent "+strconv.Itoa(n)+" bytes after its 220 reply to STARTTLS, before the TLS handshake; refusing them"))
	}
	// The handshake runs here, bounded by ctx.
	tsock, err := sock.UpgradeTLS(&sockets.StartTLSOptions{Context: ctx})
	if err != nil {
		if !sock.Upgraded() {
			return fail("STARTTLS", err)
		}
		return nil, false, w.fail(ctx, "TLS handshake", addr, err)
	}
	w.set(tsock)
	c := gosmtp.NewClient(&greetedConn{Conn: tsock, greeting: []byte(afterGreeting)})
	if err := c.Hello(name); err != nil {
		c.Close()
		return nil, false, w.fail(ctx, "EHLO after STARTTLS", addr, err)
	}
	if err := w.done(ctx, "EHLO after STARTTLS", addr); err != nil {
		c.Close()
		return nil, false, err
	}
	return c, true, nil
}

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

// hasExtension reports whether an EHLO reply (lines joined by "\n", the
// first being the greeting) lists ext.
func hasExtension(msg, ext string) bool {
	lines := strings.Split(msg, "\n")
	for _, l := range lines[1:] {
		name, _, _ := strings.Cut(strings.TrimSpace(l), " ")
		if strings.EqualFold(name, ext) {
			return true
		}
	}
	return false
}

func validateLine(s string) error {
	if strings.ContainsAny(s, "\r\n") {
		return errorf(sockets.ErrInvalidOptions, "Options.LocalName must not contain CR or LF")
	}
	return nil
}
