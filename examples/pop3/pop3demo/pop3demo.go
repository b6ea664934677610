// Package pop3demo is the pop3 example, run by `go run ./examples/pop3` and by
// the tour. The example reads mail with POP3 by hand over an outbound socket: it
// connects with secureTransport "starttls", upgrades with STLS and
// Socket.StartTLS (the Workers docs' opportunistic-TLS pattern), logs in
// with USER and PASS only once the connection is TLS, asks STAT, retrieves
// a message with RETR and ends with QUIT.
//
//	go run ./examples/pop3                              # against an in-process POP3 server
//	go run ./examples/pop3 -v                           # print every line sent (>) and received (<)
//	go run ./examples/pop3 -tls                         # POP3S: TLS from the first byte (secureTransport "on")
//	go run ./examples/pop3 -server 127.0.0.1:2110 -ca .ci/certs/ca.pem -user outbound -password outbound
//
// POP3 (RFC 1939, STLS in RFC 2595) is a line protocol: the client sends a
// command line ending in CRLF and the server answers with one line that
// starts "+OK" or "-ERR". Some answers (CAPA, LIST, TOP, RETR) go on over
// several lines and end with a line holding a single "."; a line of the
// message that starts with "." is sent with one more "." in front
// ("dot-stuffing"), which the client takes away. A session is three states:
//
//	AUTHORIZATION  greeting, CAPA, STLS, USER name, PASS secret
//	TRANSACTION    STAT (count and size), LIST, TOP n lines, RETR n, DELE n
//	UPDATE         QUIT: the server removes what DELE marked, and closes
//
// STLS turns the plain connection into TLS at the point where the server's
// "+OK" line ends. Anything the server sends after that line and before the
// TLS handshake is plaintext that a man in the middle could have injected:
// this program refuses it (sockets.ErrPlaintextInjection), and it never sends
// USER or PASS before TLS unless -insecure is given.
//
// With -message-id it looks, newest first (TOP n 0 gives a message's
// header), for the message with that Message-ID and retrieves that one
// instead of the newest.
package pop3demo

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("pop3")
	server := fs.String("server", "", "POP3 server `host:port` (default: an in-process server)")
	useTLS := fs.Bool("tls", false, "TLS from the first byte (POP3S, port 995) instead of STLS")
	caFile := fs.String("ca", "", "PEM `file` of the certificate authority to trust (default: the system roots)")
	user := fs.String("user", "outbound", "login `name`")
	password := fs.String("password", "outbound", "`password`")
	messageID := fs.String("message-id", "", "retrieve the message with this `Message-ID` (default: the newest)")
	insecure := fs.Bool("insecure", false, "send USER and PASS even if the server offers no STLS")
	verbose := fs.Bool("v", false, "print every protocol line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	for name, v := range map[string]string{"-user": *user, "-password": *password, "-message-id": *messageID} {
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("%s must be one line: POP3 commands end at CRLF", name)
		}
	}

	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
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
	if *server == "" {
		srv, err := startServer(*useTLS, "outbound", "outbound") // its one account
		if err != nil {
			return err
		}
		defer srv.Close()
		*server = srv.Addr()
		cfg.RootCAs = srv.roots
		fmt.Fprintf(stdout, "in-process POP3 server on %s (TLS from the first byte: %v)\n", *server, *useTLS)
	}
	var log io.Writer = io.Discard
	if *verbose {
		log = stdout
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// 1. Connect. "starttls" means: plain now, StartTLS later.
	st := sockets.SecureTransportStartTLS
	if *useTLS {
		st = sockets.SecureTransportOn
	}
	so := fs.Options() // the common flags' options (-capture, -trace), then this example's
	so.SecureTransport, so.TLSConfig = st, cfg
	sock, err := sockets.Connect(ctx, *server, so)
	if err != nil {
		return err
	}
	c := newConn(sock, log)
	defer func() { c.current.Load().Close() }()
	// Reads and writes end with ctx: close the socket when it is done.
	stop := context.AfterFunc(ctx, func() { c.current.Load().Close() })
	defer stop()

	greeting, err := c.reply()
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	fmt.Fprintf(stdout, "greeting: %s\n", greeting)

	// 2. STLS, unless the connection is TLS already.
	if !*useTLS {
		caps, err := c.multi("CAPA")
		if err != nil {
			return fmt.Errorf("CAPA: %w", err)
		}
		switch {
		case hasLine(caps, "STLS"):
			if err := c.startTLS(ctx); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "STLS: the connection is TLS now\n")
		case *insecure:
			fmt.Fprintf(stdout, "no STLS offered: going on in plaintext (-insecure)\n")
		default:
			c.cmd("QUIT")
			return errors.New("the server offers no STLS; refusing to send USER and PASS in plaintext (use -tls for POP3S, or -insecure)")
		}
	}

	// 3. AUTHORIZATION: USER and PASS, over TLS.
	if _, err := c.cmd("USER " + *user); err != nil {
		return fmt.Errorf("USER: %w", err)
	}
	c.secret = *password
	if _, err := c.cmd("PASS " + *password); err != nil {
		return fmt.Errorf("PASS: %w", err)
	}
	fmt.Fprintf(stdout, "logged in as %s\n", *user)

	// 4. TRANSACTION: STAT, then RETR of one message.
	stat, err := c.cmd("STAT")
	if err != nil {
		return fmt.Errorf("STAT: %w", err)
	}
	var count, size int
	if _, err := fmt.Sscanf(stat, "%d %d", &count, &size); err != nil {
		return fmt.Errorf("STAT answered %q, not \"count size\"", stat)
	}
	fmt.Fprintf(stdout, "STAT: %d messages, %d bytes\n", count, size)
	if count == 0 {
		return errors.New("the maildrop is empty: nothing to RETR")
	}
	n := count
	if *messageID != "" {
		if n, err = c.find(count, *messageID); err != nil {
			return err
		}
	}
	lines, err := c.multi("RETR " + strconv.Itoa(n))
	if err != nil {
		return fmt.Errorf("RETR %d: %w", n, err)
	}
	msg := strings.Join(lines, "\r\n") + "\r\n"
	m, err := mail.ReadMessage(strings.NewReader(msg))
	if err != nil {
		return fmt.Errorf("RETR %d: not a mail message: %w", n, err)
	}
	fmt.Fprintf(stdout, "RETR %d: %d bytes, Subject: %s\n", n, len(msg), m.Header.Get("Subject"))

	// 5. UPDATE: QUIT (nothing was marked with DELE, so nothing is removed).
	bye, err := c.cmd("QUIT")
	if err != nil {
		return fmt.Errorf("QUIT: %w", err)
	}
	fmt.Fprintf(stdout, "QUIT: %s\n", bye)
	return nil
}

// conn is one POP3 session over a socket.
type conn struct {
	sock    *sockets.Socket
	current atomic.Pointer[sockets.Socket] // sock, for closing from another goroutine
	br      *bufio.Reader
	log     io.Writer
	secret  string // never printed
}

func newConn(s *sockets.Socket, log io.Writer) *conn {
	c := &conn{sock: s, br: bufio.NewReader(s), log: log}
	c.current.Store(s)
	return c
}

// cmd sends one command line and reads its one-line answer, returning the
// text after "+OK ".
func (c *conn) cmd(line string) (string, error) {
	shown := line
	if c.secret != "" && strings.Contains(line, c.secret) {
		shown = strings.ReplaceAll(line, c.secret, "********")
	}
	fmt.Fprintf(c.log, "> %s\n", shown)
	if _, err := io.WriteString(c.sock, line+"\r\n"); err != nil {
		return "", err
	}
	return c.reply()
}

// reply reads one answer line: "+OK text" gives text, "-ERR text" an error.
func (c *conn) reply() (string, error) {
	line, err := c.line()
	if err != nil {
		return "", err
	}
	switch {
	case line == "+OK" || strings.HasPrefix(line, "+OK "):
		return strings.TrimPrefix(strings.TrimPrefix(line, "+OK"), " "), nil
	case strings.HasPrefix(line, "-ERR"):
		return "", fmt.Errorf("the server answered %q", line)
	}
	return "", fmt.Errorf("the server answered %q, which is neither +OK nor -ERR", line)
}

// multi sends a command whose +OK answer goes on over lines ending with
// ".", and returns those lines, dot-unstuffed.
func (c *conn) multi(cmd string) ([]string, error) {
	if _, err := c.cmd(cmd); err != nil {
		return nil, err
	}
	var lines []string
	for {
		line, err := c.line()
		if err != nil {
			return nil, err
		}
		if line == "." {
			return lines, nil
		}
		lines = append(lines, strings.TrimPrefix(line, ".")) // undo dot-stuffing
	}
}

func (c *conn) line() (string, error) {
	line, err := c.br.ReadString('\n')
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("reading from the server: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	fmt.Fprintf(c.log, "< %s\n", line)
	return line, nil
}

// startTLS sends STLS and, after the server's +OK, upgrades the socket.
func (c *conn) startTLS(ctx context.Context) error {
	if _, err := c.cmd("STLS"); err != nil {
		return fmt.Errorf("STLS: %w", err)
	}
	// The upgrade point is the end of the +OK line. Bytes already read past
	// it are plaintext nobody asked for: refuse them. Bytes still in the
	// socket are refused by StartTLS itself.
	if n := c.br.Buffered(); n > 0 {
		return fmt.Errorf("STLS: %w: %d bytes came after +OK, before the TLS handshake", sockets.ErrPlaintextInjection, n)
	}
	tsock, err := c.sock.StartTLS(nil)
	if err != nil {
		return fmt.Errorf("STLS: %w", err)
	}
	if _, err := tsock.Opened(ctx); err != nil {
		tsock.Close()
		return fmt.Errorf("STLS: TLS handshake: %w", err)
	}
	c.sock = tsock
	c.current.Store(tsock)
	c.br = bufio.NewReader(tsock)
	return nil
}

// find looks for the message with the Message-ID, newest first, reading
// only headers (TOP n 0), among the 200 newest messages.
func (c *conn) find(count int, id string) (int, error) {
	for n := count; n > 0 && n > count-200; n-- {
		lines, err := c.multi("TOP " + strconv.Itoa(n) + " 0")
		if err != nil {
			return 0, fmt.Errorf("TOP %d 0: %w", n, err)
		}
		m, err := mail.ReadMessage(strings.NewReader(strings.Join(lines, "\r\n") + "\r\n\r\n"))
		if err == nil && strings.TrimSpace(m.Header.Get("Message-ID")) == id {
			return n, nil
		}
	}
	return 0, fmt.Errorf("no message with Message-ID %q among the 200 newest", id)
}

func hasLine(lines []string, word string) bool {
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], word) {
			return true
		}
	}
	return false
}
