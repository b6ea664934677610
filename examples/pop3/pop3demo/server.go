package pop3demo

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

// server is a small in-process POP3 server with one maildrop: STLS (or TLS
// from the first byte), USER and PASS refused before TLS, CAPA, STAT, LIST,
// TOP, RETR, NOOP, QUIT. It serves certificates of a CA made at start, which
// roots trusts.
type server struct {
	*sockettest.Server
	roots *x509.CertPool
}

// maildrop is the in-process server's mail, oldest first.
var maildrop = []string{
	"From: alice@example.com\r\nTo: outbound@localhost\r\nSubject: first\r\nMessage-ID: <first@pop3.example>\r\n\r\nHello.\r\n",
	"From: bob@example.com\r\nTo: outbound@localhost\r\nSubject: a dot-stuffed line\r\nMessage-ID: <second@pop3.example>\r\n\r\nThe next line starts with a dot:\r\n.signature\r\n",
}

func startServer(implicitTLS bool, user, password string) (*server, error) {
	ca, err := sockettest.NewCA()
	if err != nil {
		return nil, err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return nil, err
	}
	handle := func(c net.Conn) { serve(c, cfg, implicitTLS, user, password) }
	var s *sockettest.Server
	if implicitTLS {
		s, err = sockettest.NewTLSServer(cfg, handle)
	} else {
		s, err = sockettest.NewServer(handle)
	}
	if err != nil {
		return nil, err
	}
	return &server{Server: s, roots: ca.Pool()}, nil
}

func serve(c net.Conn, cfg *tls.Config, secure bool, user, password string) {
	defer func() { c.Close() }()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	send := func(lines ...string) {
		c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n"))
	}
	send("+OK outbound example POP3 server ready")
	var gotUser, authed bool
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		f := strings.Fields(strings.TrimSpace(line))
		if len(f) == 0 {
			send("-ERR empty command")
			continue
		}
		arg := func(i int) int {
			if len(f) <= i {
				return -1
			}
			n, err := strconv.Atoi(f[i])
			if err != nil {
				return -1
			}
			return n
		}
		msg := func(n int) (string, bool) {
			if !authed || n < 1 || n > len(maildrop) {
				return "", false
			}
			return maildrop[n-1], true
		}
		switch strings.ToUpper(f[0]) {
		case "CAPA":
			caps := []string{"+OK capabilities", "USER", "TOP"}
			if !secure {
				caps = append(caps, "STLS")
			}
			send(append(caps, ".")...)
		case "STLS":
			if secure {
				send("-ERR already TLS")
				continue
			}
			send("+OK begin TLS")
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			c, br, secure = tc, bufio.NewReader(tc), true
		case "USER":
			if !secure {
				send("-ERR [AUTH] STLS first: no plaintext login")
				continue
			}
			gotUser = len(f) == 2 && f[1] == user
			send("+OK")
		case "PASS":
			if !secure || !gotUser || strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), f[0])) != password {
				send("-ERR [AUTH] authentication failed")
				continue
			}
			authed = true
			send("+OK logged in")
		case "STAT":
			if !authed {
				send("-ERR log in first")
				continue
			}
			size := 0
			for _, m := range maildrop {
				size += len(m)
			}
			send(fmt.Sprintf("+OK %d %d", len(maildrop), size))
		case "RETR", "TOP":
			m, ok := msg(arg(1))
			if !ok {
				send("-ERR no such message")
				continue
			}
			if strings.EqualFold(f[0], "TOP") {
				head, _, _ := strings.Cut(m, "\r\n\r\n")
				m = head + "\r\n\r\n"
			}
			lines := strings.Split(strings.TrimSuffix(m, "\r\n"), "\r\n")
			for i, l := range lines {
				if strings.HasPrefix(l, ".") {
					lines[i] = "." + l // dot-stuffing
				}
			}
			send(append(append([]string{"+OK message follows"}, lines...), ".")...)
		case "NOOP":
			send("+OK")
		case "QUIT":
			send("+OK bye")
			return
		default:
			send("-ERR unknown command")
		}
	}
}
