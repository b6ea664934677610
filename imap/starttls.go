package imap

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/outboundhq/outbound/sockets"
)

// DialSocketStartTLS connects to the IMAP server at addr (port 143) and does
// STARTTLS the Sockets API way: the socket is opened with SecureTransport
// "starttls", this function reads the greeting, asks for the capabilities
// when the greeting does not list them, sends STARTTLS and reads the OK,
// upgrades the socket with [sockets.Socket.StartTLS], and hands the secure
// socket to a go-imap client.
//
// Nothing the server sent after its OK to STARTTLS is handed on as if it
// were secure: bytes that arrive with the reply or after it, before the
// handshake (a STARTTLS injection), make the upgrade fail with
// [sockets.ErrPlaintextInjection]. A PREAUTH greeting is refused
// ([ErrPreAuth]).
//
// When the server does not offer STARTTLS, DialSocketStartTLS fails with
// [ErrNoStartTLS], or with [Options.AllowPlaintext] returns a plaintext
// client over the same connection (credentials still refused without
// [Options.AllowInsecureAuth]).
//
// ctx bounds the connect, the dialogue and the handshake, not the client's
// life.
func DialSocketStartTLS(ctx context.Context, addr string, opts *Options) (*imapclient.Client, error) {
	o := options(opts)
	co, err := o.clientOptions()
	if err != nil {
		return nil, &Error{Op: "dial", Addr: addr, Err: err}
	}
	sock, err := connect(ctx, addr, o, sockets.SecureTransportStartTLS, o.tlsConfig(addr))
	if err != nil {
		return nil, err
	}
	w := watch(ctx, sock)
	fail := func(op string, err error) (*imapclient.Client, error) {
		sock.Close()
		return nil, w.fail(ctx, op, addr, err)
	}

	br := bufio.NewReaderSize(sock, 1024)
	greeting, err := readLine(br)
	if err != nil {
		return fail("greeting", err)
	}
	status, text := untagged(greeting)
	switch {
	case strings.EqualFold(status, "PREAUTH"):
		return fail("greeting", errorf(ErrPreAuth, "the server greeted with PREAUTH, which would skip STARTTLS; refusing the connection"))
	case !strings.EqualFold(status, "OK"):
		return fail("greeting", errorf(ErrProtocol, "the server's greeting is "+strconv.Quote(greeting)+", not * OK"))
	}
	caps, ok := capsCode(text)
	if !ok {
		if _, err := io.WriteString(sock, "C1 CAPABILITY\r\n"); err != nil {
			return fail("CAPABILITY", err)
		}
		for {
			line, err := readLine(br)
			if err != nil {
				return fail("CAPABILITY", err)
			}
			if rest, ok := strings.CutPrefix(line, "* CAPABILITY "); ok {
				caps = " " + strings.ToUpper(rest) + " "
				continue
			}
			if rest, ok := strings.CutPrefix(line, "C1 "); ok {
				if !strings.HasPrefix(strings.ToUpper(rest), "OK") {
					return fail("CAPABILITY", errorf(ErrProtocol, "the server answered "+strconv.Quote(line)))
				}
				break
			}
		}
	}
	if n := br.Buffered(); n > 0 {
		return fail("CAPABILITY", errorf(sockets.ErrPlaintextInjection, "the server sent "+strconv.Itoa(n)+" bytes without being asked; refusing to go on"))
	}
	if !strings.Contains(caps, " STARTTLS ") {
		if !o.AllowPlaintext {
			io.WriteString(sock, "C9 LOGOUT\r\n")
			return fail("STARTTLS", noStartTLS(addr, nil))
		}
		c := imapclient.New(newGuard(&greetedConn{Conn: sock, greeting: []byte(afterGreeting)}, addr, o.AllowInsecureAuth), co)
		return greetDone(ctx, w, addr, c)
	}

	// The upgrade point is the end of the OK reply. Bytes that came with it
	// are in br's buffer: refuse them. Bytes that come after it are left in
	// the socket, where StartTLS refuses them (ErrPlaintextInjection).
	if _, err := io.WriteString(sock, "C2 STARTTLS\r\n"); err != nil {
		return fail("STARTTLS", err)
	}
	for {
		line, err := readLine(br)
		if err != nil {
			return fail("STARTTLS", err)
		}
		rest, ok := strings.CutPrefix(line, "C2 ")
		if !ok {
			continue // untagged data before the reply
		}
		if !strings.HasPrefix(strings.ToUpper(rest), "OK") {
			return fail("STARTTLS", noStartTLS(addr, errorf(ErrProtocol, "reply "+strconv.Quote(line))))
		}
		break
	}
	if n := br.Buffered(); n > 0 {
		return fail("STARTTLS", errorf(sockets.ErrPlaintextInjection, "the server sent "+strconv.Itoa(n)+" bytes after its OK reply to STARTTLS, before the TLS handshake; refusing them"))
	}
	// The handshake runs here, bounded by ctx.
	tsock, err := sock.UpgradeTLS(&sockets.StartTLSOptions{Context: ctx})
	if err != nil {
		if !sock.Upgraded() {
			return fail("STARTTLS", err)
		}
		return nil, w.fail(ctx, "TLS handshake", addr, err)
	}
	w.set(tsock)
	c := imapclient.New(&greetedConn{Conn: tsock, greeting: []byte(afterGreeting)}, co)
	return greetDone(ctx, w, addr, c)
}

// afterGreeting is the greeting a go-imap client reads from a connection
// whose real greeting this package has already read (servers do not greet
// again after STARTTLS). It is generated here, never taken from plaintext,
// and lists no capabilities: go-imap asks for them over TLS.
const afterGreeting = "* OK greeting already received\r\n"

func greetDone(ctx context.Context, w *ctxWatch, addr string, c *imapclient.Client) (*imapclient.Client, error) {
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

// readLine reads one CRLF-terminated response line of at most 8 KiB,
// without its line ending.
func readLine(br *bufio.Reader) (string, error) {
	var line []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		line = append(line, chunk...)
		if len(line) > 8<<10 {
			return "", errorf(ErrProtocol, "a response line is over 8 KiB")
		}
		if !isPrefix {
			return string(line), nil
		}
	}
}

// untagged splits "* OK text" into "OK" and "text".
func untagged(line string) (status, text string) {
	rest, ok := strings.CutPrefix(line, "* ")
	if !ok {
		return "", line
	}
	status, text, _ = strings.Cut(rest, " ")
	return status, text
}

// capsCode returns the capabilities of a "[CAPABILITY ...]" response code at
// the start of text, upper-cased and padded with spaces.
func capsCode(text string) (string, bool) {
	rest, ok := strings.CutPrefix(text, "[")
	if !ok {
		return "", false
	}
	code, _, ok := strings.Cut(rest, "]")
	if !ok {
		return "", false
	}
	list, ok := strings.CutPrefix(strings.ToUpper(code), "CAPABILITY ")
	if !ok {
		return "", false
	}
	return " " + list + " ", true
}
