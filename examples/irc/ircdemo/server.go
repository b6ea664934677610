package ircdemo

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ircServer is a tiny IRC server for this example: registration with a PING
// that must be answered before the welcome (as some real servers do), JOIN
// with a names list, PRIVMSG to channels and nicknames, PING, QUIT. It keeps
// no modes, topics or operators.
type ircServer struct {
	name string

	mu       sync.Mutex
	nicks    map[string]*ircConn            // by lower-case nickname
	channels map[string]map[*ircConn]string // lower-case name -> members -> the name as joined
	cookie   int
}

// ircConn is one client of the server.
type ircConn struct {
	c    net.Conn
	wmu  sync.Mutex
	nick string
	user string
}

func newIRCServer(name string) *ircServer {
	return &ircServer{name: name, nicks: map[string]*ircConn{}, channels: map[string]map[*ircConn]string{}}
}

// write sends one line to the client (CRLF added).
func (c *ircConn) write(format string, args ...any) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c.c, format+"\r\n", args...)
}

func (c *ircConn) prefix() string { return c.nick + "!" + c.user + "@127.0.0.1" }

// serve runs one client connection until QUIT, EOF or an idle minute.
func (s *ircServer) serve(nc net.Conn) {
	c := &ircConn{c: nc}
	reason := "Connection closed"
	defer func() { s.part(c, reason) }()
	r := bufio.NewReader(io.LimitReader(nc, 1<<20))
	var pingCookie string
	var user string
	for {
		nc.SetReadDeadline(time.Now().Add(time.Minute))
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		m := parse(strings.TrimRight(line, "\r\n"))
		registered := c.nick != "" && c.user != ""
		switch m.command {
		case "NICK":
			if len(m.params) < 1 {
				c.write(":%s 431 * :No nickname given", s.name)
				continue
			}
			if !s.claim(c, m.params[0]) {
				c.write(":%s 433 * %s :Nickname is already in use", s.name, m.params[0])
				continue
			}
		case "USER":
			if len(m.params) < 4 {
				c.write(":%s 461 * USER :Not enough parameters", s.name)
				continue
			}
			user = m.params[0]
		case "PONG":
			if pingCookie != "" && len(m.params) > 0 && m.params[len(m.params)-1] == pingCookie {
				pingCookie = ""
				c.user = user
				c.write(":%s 001 %s :Welcome to the outbound example network, %s", s.name, c.nick, c.prefix())
				c.write(":%s 422 %s :MOTD File is missing", s.name, c.nick)
			}
			continue
		case "PING":
			token := ""
			if len(m.params) > 0 {
				token = m.params[len(m.params)-1]
			}
			c.write(":%s PONG %s :%s", s.name, s.name, token)
			continue
		case "QUIT":
			reason = "Quit: " + strings.Join(m.params, " ")
			c.write("ERROR :Closing link: %s (%s)", c.nick, reason)
			return
		case "JOIN":
			if !registered {
				c.write(":%s 451 * :You have not registered", s.name)
				continue
			}
			if len(m.params) < 1 || !strings.HasPrefix(m.params[0], "#") {
				c.write(":%s 461 %s JOIN :Not enough parameters", s.name, c.nick)
				continue
			}
			s.join(c, m.params[0])
			continue
		case "PRIVMSG":
			if !registered {
				c.write(":%s 451 * :You have not registered", s.name)
				continue
			}
			if len(m.params) < 2 {
				c.write(":%s 412 %s :No text to send", s.name, c.nick)
				continue
			}
			s.privmsg(c, m.params[0], m.params[1])
			continue
		default:
			if registered {
				c.write(":%s 421 %s %s :Unknown command", s.name, c.nick, m.command)
			}
			continue
		}
		// After NICK and USER, ask for a PONG before the welcome.
		if c.user == "" && c.nick != "" && user != "" && pingCookie == "" {
			s.mu.Lock()
			s.cookie++
			pingCookie = strconv.Itoa(1000000 + s.cookie)
			s.mu.Unlock()
			c.write("PING :%s", pingCookie)
		}
	}
}

// claim gives c the nickname, if free.
func (s *ircServer) claim(c *ircConn, nick string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(nick)
	if other, ok := s.nicks[key]; ok && other != c {
		return false
	}
	delete(s.nicks, strings.ToLower(c.nick))
	s.nicks[key] = c
	c.nick = nick
	return true
}

// join adds c to channel, tells every member (c included) and sends c the
// names list.
func (s *ircServer) join(c *ircConn, channel string) {
	s.mu.Lock()
	key := strings.ToLower(channel)
	members := s.channels[key]
	if members == nil {
		members = map[*ircConn]string{}
		s.channels[key] = members
	}
	members[c] = channel
	var names []string
	var others []*ircConn
	for m := range members {
		names = append(names, m.nick)
		others = append(others, m)
	}
	s.mu.Unlock()
	for _, m := range others {
		m.write(":%s JOIN %s", c.prefix(), channel)
	}
	c.write(":%s 353 %s = %s :%s", s.name, c.nick, channel, strings.Join(names, " "))
	c.write(":%s 366 %s %s :End of /NAMES list", s.name, c.nick, channel)
}

// privmsg relays text to a channel's other members or to a nickname.
func (s *ircServer) privmsg(c *ircConn, target, text string) {
	s.mu.Lock()
	var to []*ircConn
	if strings.HasPrefix(target, "#") {
		members, ok := s.channels[strings.ToLower(target)]
		if _, in := members[c]; !ok || !in {
			s.mu.Unlock()
			c.write(":%s 404 %s %s :Cannot send to channel", s.name, c.nick, target)
			return
		}
		for m := range members {
			if m != c {
				to = append(to, m)
			}
		}
	} else if m, ok := s.nicks[strings.ToLower(target)]; ok {
		to = append(to, m)
	}
	s.mu.Unlock()
	if len(to) == 0 && !strings.HasPrefix(target, "#") {
		c.write(":%s 401 %s %s :No such nick/channel", s.name, c.nick, target)
		return
	}
	for _, m := range to {
		m.write(":%s PRIVMSG %s :%s", c.prefix(), target, text)
	}
}

// part removes c from the server and tells its channels it quit.
func (s *ircServer) part(c *ircConn, reason string) {
	s.mu.Lock()
	if s.nicks[strings.ToLower(c.nick)] == c {
		delete(s.nicks, strings.ToLower(c.nick))
	}
	notify := map[*ircConn]bool{}
	for key, members := range s.channels {
		if _, ok := members[c]; !ok {
			continue
		}
		delete(members, c)
		for m := range members {
			notify[m] = true
		}
		if len(members) == 0 {
			delete(s.channels, key)
		}
	}
	s.mu.Unlock()
	if c.user == "" {
		return
	}
	for m := range notify {
		m.write(":%s QUIT :%s", c.prefix(), reason)
	}
}
