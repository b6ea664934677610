// Package imaptest runs an in-process IMAP server for tests and examples:
// go-imap v2's own server (imapserver with the in-memory imapmemserver
// backend) on 127.0.0.1 on a port the kernel chooses, with STARTTLS or
// implicit TLS, accounts, and messages put in place without a client.
//
//	s, err := imaptest.NewServer(&imaptest.Options{TLSConfig: cfg, Users: map[string]string{"alice": "pw"}})
//	...
//	defer s.Close()
//	s.Deliver("alice", msg) // into alice's INBOX
package imaptest

import (
	"bytes"
	"crypto/tls"
	"errors"

	"io"
	"log"
	"net"
	"sync"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// Options configure a [Server]. A nil *Options is a plaintext server with
// no accounts.
type Options struct {
	// TLSConfig is the server's TLS configuration. With it the server
	// offers STARTTLS (or, with ImplicitTLS, speaks TLS from the first
	// byte); nil means no TLS at all.
	TLSConfig *tls.Config

	// ImplicitTLS serves TLS from the first byte (the port 993 style). It
	// needs TLSConfig.
	ImplicitTLS bool

	// Users are the accounts (name to password); each has an INBOX.
	Users map[string]string

	// InsecureAuth accepts LOGIN before TLS, as a server that would take
	// credentials in plaintext does.
	InsecureAuth bool
}

// Server is a running in-process IMAP server. Its methods are safe for
// concurrent use. Stop it with [Server.Close].
type Server struct {
	ln    net.Listener
	srv   *imapserver.Server
	mem   *imapmemserver.Server
	users map[string]*imapmemserver.User
	done  chan struct{}

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	logins int
	wg     sync.WaitGroup
	closed bool
}

// NewServer starts a server. opts is copied.
func NewServer(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ImplicitTLS && o.TLSConfig == nil {
		return nil, errors.New("imaptest: ImplicitTLS needs a TLSConfig")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, mem: imapmemserver.New(), users: map[string]*imapmemserver.User{},
		done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	for name, pw := range o.Users {
		u := imapmemserver.NewUser(name, pw)
		if err := u.Create("INBOX", nil); err != nil {
			ln.Close()
			return nil, err
		}
		s.mem.AddUser(u)
		s.users[name] = u
	}
	so := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			sess, ok := s.mem.NewSession().(imapserver.SessionIMAP4rev2)
			if !ok {
				return nil, nil, errors.New("imaptest: the in-memory session lacks IMAP4rev2")
			}
			return &session{SessionIMAP4rev2: sess, s: s}, nil, nil
		},
		Caps:         goimap.CapSet{goimap.CapIMAP4rev1: {}, goimap.CapIMAP4rev2: {}},
		Logger:       log.New(io.Discard, "", 0),
		InsecureAuth: o.InsecureAuth,
	}
	var serveLn net.Listener = &listener{Listener: ln, s: s}
	if o.TLSConfig != nil {
		if o.ImplicitTLS {
			serveLn = tls.NewListener(serveLn, o.TLSConfig.Clone())
			so.InsecureAuth = true // the connection is TLS from the first byte
		} else {
			so.TLSConfig = o.TLSConfig.Clone()
		}
	}
	s.srv = imapserver.New(so)
	go func() {
		defer close(s.done)
		s.srv.Serve(serveLn)
	}()
	return s, nil
}

// Addr returns the address the server listens on, as "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Logins returns how many LOGIN or AUTHENTICATE attempts reached the
// server's account check, successful or not. A client that refuses to send
// credentials before TLS leaves it at 0.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Deliver appends msg (an RFC 5322 message, CRLF line endings) to the INBOX
// of user, as a mail delivery would; clients in IDLE on it are told.
func (s *Server) Deliver(user string, msg []byte) error {
	return s.Append(user, "INBOX", msg)
}

// Append appends msg to the mailbox of user, creating the mailbox if needed.
func (s *Server) Append(user, mailbox string, msg []byte) error {
	u, ok := s.users[user]
	if !ok {
		return errors.New("imaptest: no user " + user)
	}
	if err := u.Create(mailbox, nil); err != nil && mailbox != "INBOX" {
		var ie *goimap.Error
		if !errors.As(err, &ie) || ie.Code != goimap.ResponseCodeAlreadyExists {
			return err
		}
	}
	_, err := u.Append(mailbox, literal{bytes.NewReader(msg)}, &goimap.AppendOptions{Time: time.Now()})
	return err
}

// Close stops the server: it closes the listener and every connection and
// waits until the connections' goroutines have returned. It is safe to call
// more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	err := s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.srv.Close()
	<-s.done
	s.wg.Wait()
	return err
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }

type session struct {
	imapserver.SessionIMAP4rev2
	s *Server
}

func (ss *session) Login(username, password string) error {
	ss.s.mu.Lock()
	ss.s.logins++
	ss.s.mu.Unlock()
	return ss.SessionIMAP4rev2.Login(username, password)
}

type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.closed {
		c.Close()
		return c, nil
	}
	l.s.conns[c] = struct{}{}
	l.s.wg.Add(1)
	return &conn{Conn: c, s: l.s}, nil
}

// conn tells the server when the connection's handler is done with it.
type conn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c.Conn)
		c.s.mu.Unlock()
		c.s.wg.Done()
	})
	return err
}
