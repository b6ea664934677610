// Package ircdemo is the irc example, run by `go run ./examples/irc` and by
// the tour. It speaks IRC by hand over outbound sockets: two clients, alice
// and bob, register with NICK and USER, answer the server's PING with PONG,
// JOIN a channel, and alice sends bob a PRIVMSG through it.
//
//	go run ./examples/irc                             # against an in-process IRC server
//	go run ./examples/irc -v                          # print every line sent (>) and received (<)
//	go run ./examples/irc -tls                        # the same over TLS (secureTransport "on")
//	go run ./examples/irc -server 127.0.0.1:6667      # a real server, such as ngIRCd
//	go run ./examples/irc -server irc.libera.chat:6697 -tls -channel '#outbound-test'
//
// IRC (RFC 1459, RFC 2812, and the living spec at modern.ircdocs.horse) is a
// line protocol over TCP: each message is one line ending in CRLF,
//
//	[":" prefix " "] command {" " param} [" :" trailing param]
//
// where the prefix says who sent it (the server, or nick!user@host) and the
// command is a word (PRIVMSG) or a three-digit reply (001 is the welcome).
// A client registers by sending NICK and USER; the server answers 001 when
// it is done (and ends the welcome with the message of the day), and sends PING from time to time (some servers once before
// 001), which the client must answer with PONG and the same parameter or be
// disconnected. That is all this program needs, and it is written out below
// with nothing but a socket and a bufio.Reader.
//
// The Cloudflare Workers docs name IRC as a use of the socket API; the
// JavaScript shape is the same:
//
//	const socket = connect({ hostname: "irc.libera.chat", port: 6697 }, { secureTransport: "on" });
//	const writer = socket.writable.getWriter();
//	await writer.write(encoder.encode("NICK alice\r\nUSER alice 0 * :Alice\r\n"));
//	// ... read lines from socket.readable, answer PING with PONG ...
package ircdemo

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("irc")
	server := fs.String("server", "", "IRC server `host:port` (default: an in-process server)")
	useTLS := fs.Bool("tls", false, "connect with TLS from the first byte (secureTransport \"on\"), as on port 6697")
	caFile := fs.String("ca", "", "PEM `file` of the certificate authority to trust with -tls (default: the system roots)")
	channel := fs.String("channel", "#outbound", "`channel` to join")
	text := fs.String("message", "hello from an outbound socket", "`text` alice sends bob")
	verbose := fs.Bool("v", false, "print every protocol line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	if !strings.HasPrefix(*channel, "#") || strings.ContainsAny(*channel, " ,\r\n\a") {
		return fmt.Errorf("-channel %q: a channel name starts with # and has no space, comma or control character", *channel)
	}
	if strings.ContainsAny(*text, "\r\n") {
		return errors.New("-message must be one line: IRC messages end at CRLF")
	}

	opts := fs.Options()
	if *useTLS {
		opts.SecureTransport = sockets.SecureTransportOn
		opts.TLSConfig = &tls.Config{}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return err
			}
			opts.TLSConfig.RootCAs = x509.NewCertPool()
			if !opts.TLSConfig.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s holds no PEM certificate", *caFile)
			}
		}
	}
	if *server == "" {
		srv, err := startServer(opts)
		if err != nil {
			return err
		}
		defer srv.Close()
		*server = srv.Addr()
		fmt.Fprintf(stdout, "in-process IRC server on %s (TLS %v)\n", *server, *useTLS)
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var log io.Writer = io.Discard
	if *verbose {
		log = stdout
	}

	// bob connects first and waits in the channel.
	bob, err := dial(ctx, *server, opts, "bob", log)
	if err != nil {
		return err
	}
	defer bob.close()
	if err := bob.register(); err != nil {
		return err
	}
	if err := bob.join(*channel); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s registered and joined %s\n", bob.nick, *channel)

	alice, err := dial(ctx, *server, opts, "alice", log)
	if err != nil {
		return err
	}
	defer alice.close()
	if err := alice.register(); err != nil {
		return err
	}
	if err := alice.join(*channel); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s registered and joined %s\n", alice.nick, *channel)
	if alice.pongs+bob.pongs > 0 {
		fmt.Fprintf(stdout, "answered %d PING from the server with PONG\n", alice.pongs+bob.pongs)
	}

	// A client may PING the server too: the PONG proves the link is alive.
	if err := alice.ping("outbound"); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "alice sent PING, the server answered PONG")

	// PRIVMSG to the channel: the server relays it to every other member.
	if err := alice.send("PRIVMSG " + *channel + " :" + *text); err != nil {
		return err
	}
	m, err := bob.waitFor(func(m message) bool {
		return m.command == "PRIVMSG" && len(m.params) == 2 && strings.EqualFold(m.params[0], *channel) && m.nick() == alice.nick
	})
	if err != nil {
		return fmt.Errorf("bob waiting for alice's message: %w", err)
	}
	fmt.Fprintf(stdout, "bob received in %s from %s: %s\n", m.params[0], m.nick(), m.params[1])

	for _, c := range []*client{alice, bob} {
		if err := c.quit("bye"); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "both quit")
	return nil
}

// client is one IRC connection: an outbound socket and a line reader on it.
type client struct {
	nick   string
	socket *sockets.Socket
	r      *bufio.Reader
	log    io.Writer
	pongs  int // PINGs from the server answered so far
}

// dial opens the socket and waits until it is open (for TLS, until the
// handshake is done), so a refused connect or a bad certificate shows here.
// ctx's deadline bounds every later read and write too.
func dial(ctx context.Context, addr string, opts *sockets.Options, nick string, log io.Writer) (*client, error) {
	s, err := sockets.Connect(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	if _, err := s.Opened(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	return &client{nick: nick, socket: s, r: bufio.NewReader(s), log: log}, nil
}

func (c *client) close() { c.socket.Close() }

// send writes one message; the CRLF is added here.
func (c *client) send(line string) error {
	fmt.Fprintf(c.log, "%s > %s\n", c.nick, line)
	_, err := io.WriteString(c.socket, line+"\r\n")
	return err
}

// register sends NICK and USER and waits for the end of the welcome: 001
// (RPL_WELCOME) first, then the message of the day, which ends with 376
// (RPL_ENDOFMOTD) or, when there is none, 422 (ERR_NOMOTD). A nickname in
// use (433) gets an underscore and another try.
func (c *client) register() error {
	if err := c.send("NICK " + c.nick); err != nil {
		return err
	}
	// USER <username> <mode> <unused> :<realname>
	if err := c.send("USER " + c.nick + " 0 * :outbound IRC example"); err != nil {
		return err
	}
	for {
		m, err := c.waitFor(func(m message) bool {
			return m.command == "001" || m.command == "433" || m.command == "376" || m.command == "422"
		})
		if err != nil {
			return fmt.Errorf("%s registering: %w", c.nick, err)
		}
		switch m.command {
		case "001":
			// The first parameter of every reply is our nickname as the
			// server knows it.
			c.nick = m.params[0]
		case "433":
			c.nick += "_"
			if err := c.send("NICK " + c.nick); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// join joins channel and waits for 366 (RPL_ENDOFNAMES), which ends the
// server's answer to JOIN.
func (c *client) join(channel string) error {
	if err := c.send("JOIN " + channel); err != nil {
		return err
	}
	if _, err := c.waitFor(func(m message) bool { return m.command == "366" }); err != nil {
		return fmt.Errorf("%s joining %s: %w", c.nick, channel, err)
	}
	return nil
}

// ping sends PING and waits for the PONG that carries token back.
func (c *client) ping(token string) error {
	if err := c.send("PING :" + token); err != nil {
		return err
	}
	_, err := c.waitFor(func(m message) bool {
		return m.command == "PONG" && len(m.params) > 0 && m.params[len(m.params)-1] == token
	})
	return err
}

// quit sends QUIT; the server answers with ERROR and closes the connection.
func (c *client) quit(reason string) error {
	if err := c.send("QUIT :" + reason); err != nil {
		return err
	}
	for {
		_, err := c.read()
		if errors.Is(err, io.EOF) || errors.Is(err, errServerClosing) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s quitting: %w", c.nick, err)
		}
	}
}

// errServerClosing is what an ERROR message from the server becomes.
var errServerClosing = errors.New("the server closed the link")

// waitFor reads messages until one satisfies want. Error replies (4xx and
// 5xx) that want does not accept, and the server's ERROR, end the wait.
func (c *client) waitFor(want func(message) bool) (message, error) {
	for {
		m, err := c.read()
		if err != nil {
			return m, err
		}
		if want(m) {
			return m, nil
		}
		if len(m.command) == 3 && (m.command[0] == '4' || m.command[0] == '5') {
			return m, fmt.Errorf("the server refused: %s", m.raw)
		}
	}
}

// read reads one message and answers PING on the spot, wherever it comes.
func (c *client) read() (message, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && line == "" {
			return message{}, io.EOF
		}
		return message{}, err
	}
	line = strings.TrimRight(line, "\r\n")
	fmt.Fprintf(c.log, "%s < %s\n", c.nick, line)
	m := parse(line)
	switch m.command {
	case "PING":
		token := ""
		if len(m.params) > 0 {
			token = m.params[len(m.params)-1]
		}
		c.pongs++
		return m, c.send("PONG :" + token)
	case "ERROR":
		return m, fmt.Errorf("%w: %s", errServerClosing, strings.Join(m.params, " "))
	}
	return m, nil
}

// message is one parsed IRC line.
type message struct {
	raw     string
	prefix  string // "irc.example.net" or "nick!user@host"; "" if absent
	command string // upper case: "PRIVMSG", "001"
	params  []string
}

// nick returns the nickname in the prefix (the part before "!").
func (m message) nick() string {
	nick, _, _ := strings.Cut(m.prefix, "!")
	return nick
}

// parse splits a line into prefix, command and parameters. IRCv3 message
// tags ("@key=value ...") are skipped.
func parse(line string) message {
	m := message{raw: line}
	if strings.HasPrefix(line, "@") {
		_, line, _ = strings.Cut(line, " ")
	}
	if strings.HasPrefix(line, ":") {
		m.prefix, line, _ = strings.Cut(line[1:], " ")
	}
	for line != "" {
		line = strings.TrimLeft(line, " ")
		if strings.HasPrefix(line, ":") { // the trailing parameter may hold spaces
			m.params = append(m.params, line[1:])
			break
		}
		var word string
		word, line, _ = strings.Cut(line, " ")
		if word == "" {
			break
		}
		if m.command == "" {
			m.command = strings.ToUpper(word)
		} else {
			m.params = append(m.params, word)
		}
	}
	return m
}

// startServer starts the in-process IRC server, over TLS with a throwaway
// certificate authority when opts asks for TLS (and then trusts that CA in
// opts).
func startServer(opts *sockets.Options) (*sockettest.Server, error) {
	srv := newIRCServer("irc.outbound.test")
	if opts.SecureTransport != sockets.SecureTransportOn {
		return sockettest.NewServer(srv.serve)
	}
	ca, err := sockettest.NewCA()
	if err != nil {
		return nil, err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return nil, err
	}
	opts.TLSConfig.RootCAs = ca.Pool()
	return sockettest.NewTLSServer(cfg, srv.serve)
}
