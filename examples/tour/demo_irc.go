package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// ngIRCd is the IRC server of the integration tests (plain, no password),
// set up by .ci/setup/52-irc.sh; compose.yaml has no IRC server.
var ngIRCd = &server{
	envVar: "OUTBOUND_TEST_IRC",
	start:  "bash .ci/setup/52-irc.sh (as root; see .ci/README.md)",
	addr:   plainAddr,
}

// ircText is the message the demo sends itself.
const ircText = "hello from the outbound tour"

// demoIRC speaks IRC by hand over a socket from sockets.Connect with
// secureTransport "on", as on port 6697, to a scripted in-process server:
// NICK and USER, a PING before the welcome that must be answered with PONG,
// JOIN, a PING of our own, a PRIVMSG to ourselves that comes back, and QUIT.
func demoIRC(ctx context.Context, e *env) error {
	ca, err := sockettest.NewCA()
	if err != nil {
		return err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return err
	}
	const me = ":tour!tour@127.0.0.1 "
	srv, err := sockettest.NewTLSScripted(cfg,
		sockettest.ExpectLine("NICK tour"),
		sockettest.ExpectLine("USER tour 0 * :outbound tour"),
		sockettest.Send("PING :5417\r\n"),
		sockettest.ExpectLine("PONG :5417"),
		sockettest.Send(":irc.test 001 tour :Welcome to the tour network\r\n:irc.test 422 tour :MOTD File is missing\r\n"),
		sockettest.ExpectLine("JOIN #outbound"),
		sockettest.Send(me+"JOIN #outbound\r\n:irc.test 353 tour = #outbound :tour\r\n:irc.test 366 tour #outbound :End of /NAMES list\r\n"),
		sockettest.ExpectLine("PING :tour"),
		sockettest.Send(":irc.test PONG irc.test :tour\r\n"),
		sockettest.ExpectLine("PRIVMSG tour :"+ircText),
		sockettest.Send(me+"PRIVMSG tour :"+ircText+"\r\n"),
		sockettest.ExpectLine("QUIT :bye"),
		sockettest.Send("ERROR :Closing link: tour (Quit: bye)\r\n"),
		sockettest.CloseConn(),
	)
	if err != nil {
		return err
	}
	defer srv.Close()
	opts := &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: &tls.Config{RootCAs: ca.Pool()}}
	if err := ircSession(ctx, e, srv.Addr(), opts, "tour"); err != nil {
		return err
	}
	<-srv.Done()
	if errs := srv.Errs(); len(errs) > 0 {
		return fmt.Errorf("the server's script failed: %v", errs)
	}
	return nil
}

// demoNgIRCd does the same in plain text against ngIRCd, with a nickname of
// its own so that runs at the same time do not collide.
func demoNgIRCd(ctx context.Context, e *env) error {
	return ircSession(ctx, e, e.addr, nil, fmt.Sprintf("tour%06d", rand.IntN(1e6)))
}

// ircSession registers as nick, joins #outbound, pings the server, sends
// itself a PRIVMSG and waits for it, and quits.
func ircSession(ctx context.Context, e *env, addr string, opts *sockets.Options, nick string) error {
	s, err := sockets.Connect(ctx, addr, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Opened(ctx); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	c := &ircConn{w: s, r: bufio.NewReader(s), nick: nick}

	c.send("NICK " + nick)
	c.send("USER " + nick + " 0 * :outbound tour")
	if _, err := c.waitFor("001"); err != nil { // RPL_WELCOME
		return fmt.Errorf("registering: %w", err)
	}
	// The welcome ends with the message of the day (376) or its absence (422).
	if _, err := c.waitFor("376", "422"); err != nil {
		return fmt.Errorf("registering: %w", err)
	}
	if c.pongs > 0 {
		e.step("registered as %s at %s, answered the server's PING with PONG", nick, addr)
	} else {
		e.step("registered as %s at %s", nick, addr)
	}
	c.send("JOIN #outbound")
	if _, err := c.waitFor("366"); err != nil { // RPL_ENDOFNAMES
		return fmt.Errorf("JOIN: %w", err)
	}
	c.send("PING :tour")
	if _, err := c.waitFor("PONG"); err != nil {
		return fmt.Errorf("PING: %w", err)
	}
	c.send("PRIVMSG " + nick + " :" + ircText)
	m, err := c.waitFor("PRIVMSG")
	if err != nil {
		return fmt.Errorf("PRIVMSG: %w", err)
	}
	if got := m[len(m)-1]; got != ircText {
		return fmt.Errorf("PRIVMSG came back as %q, want %q", got, ircText)
	}
	e.step("joined #outbound, PING-PONG, PRIVMSG to %s came back", nick)
	c.send("QUIT :bye")
	// The server answers QUIT with ERROR and closes the link.
	if _, err := c.waitFor("ERROR"); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("QUIT: %w", err)
	}
	return c.err
}

// ircConn reads and writes IRC lines. A write error is kept in err and
// ends every later wait.
type ircConn struct {
	w     io.Writer
	r     *bufio.Reader
	nick  string
	pongs int // PINGs from the server answered
	err   error
}

func (c *ircConn) send(line string) {
	if c.err == nil {
		_, c.err = io.WriteString(c.w, line+"\r\n")
	}
}

// waitFor reads messages until one whose command is in commands, and
// returns its parameters (command first). It answers the server's PINGs on
// the way and fails on an error reply (4xx, 5xx) or the server's ERROR.
func (c *ircConn) waitFor(commands ...string) ([]string, error) {
	for c.err == nil {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		m := ircFields(strings.TrimRight(line, "\r\n"))
		if len(m) == 0 {
			continue
		}
		for _, want := range commands {
			if m[0] == want {
				return m, nil
			}
		}
		switch {
		case m[0] == "PING":
			c.pongs++
			c.send("PONG :" + m[len(m)-1])
		case m[0] == "ERROR":
			return nil, fmt.Errorf("the server closed the link: %s", line)
		case len(m[0]) == 3 && (m[0][0] == '4' || m[0][0] == '5'):
			return nil, fmt.Errorf("the server refused: %s", strings.TrimSpace(line))
		}
	}
	return nil, c.err
}

// ircFields splits an IRC line into its command (upper case) and
// parameters, dropping the prefix (":server " or ":nick!user@host ") and
// IRCv3 tags; the trailing parameter (after " :") may hold spaces. A line
// with no command gives nil.
func ircFields(line string) []string {
	if strings.HasPrefix(line, "@") {
		_, line, _ = strings.Cut(line, " ")
	}
	if strings.HasPrefix(line, ":") {
		_, line, _ = strings.Cut(line, " ")
	}
	head, trailing, hasTrailing := strings.Cut(line, " :")
	fields := strings.Fields(head)
	if len(fields) == 0 || strings.HasPrefix(line, ":") {
		return nil // no command
	}
	fields[0] = strings.ToUpper(fields[0])
	if hasTrailing {
		fields = append(fields, trailing)
	}
	return fields
}
