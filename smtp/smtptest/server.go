package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"sync"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
)

// Options configure a [Server]. A nil *Options is a plain server with no
// STARTTLS and no AUTH.
type Options struct {
	// TLSConfig is the server's TLS configuration. With it the server
	// offers STARTTLS; nil means no TLS at all.
	TLSConfig *tls.Config

	// ImplicitTLS serves TLS from the first byte (the port 465 style)
	// instead of offering STARTTLS. It needs TLSConfig.
	ImplicitTLS bool

	// Users are the accounts (name to password) accepted by AUTH PLAIN and
	// AUTH LOGIN. Nil or empty means the server offers no AUTH.
	Users map[string]string

	// RequireAuth refuses MAIL FROM before a successful AUTH (530).
	RequireAuth bool

	// AllowInsecureAuth offers and accepts AUTH before TLS. Leave it false,
	// as real submission servers do, unless a test needs a server that
	// would accept credentials in plaintext.
	AllowInsecureAuth bool

	// Rcpt, when set, is called for every RCPT TO; a non-nil error refuses
	// the recipient. Return a *smtp.SMTPError (of emersion/go-smtp) to choose
	// the reply code, such as 550 or 451.
	Rcpt func(to string) error

	// Data, when set, is called with every complete message before it is
	// recorded; a non-nil error refuses the message with that reply.
	Data func(m Message) error

	// Discard accepts messages without keeping them: Messages stays empty.
	// For benchmarks, which would otherwise hold every message in memory.
	Discard bool

	// MaxMessageBytes limits the message size the server accepts (and
	// advertises with SIZE); 0 means no limit.
	MaxMessageBytes int64

	// Domain is the name the server gives in its greeting; "localhost" when empty.
	Domain string
}

// Message is one message the server accepted.
type Message struct {
	From string   // the MAIL FROM address
	To   []string // the RCPT TO addresses, in order
	Data []byte   // the message as received, with CRLF line endings and dot-stuffing removed
	User string   // the authenticated user, or "" without AUTH
	TLS  bool     // whether the session was over TLS (after STARTTLS or implicitly)
}

// Server is a running in-process SMTP server. Its methods are safe for
// concurrent use. Stop it with [Server.Close].
type Server struct {
	opts Options
	srv  *gosmtp.Server
	ln   net.Listener
	done chan struct{} // closed when Serve returns

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	closed   bool
	messages []Message
	auths    int
	sessions int
}

// NewServer starts a server listening on 127.0.0.1 on a port chosen by the
// kernel. opts is copied.
func NewServer(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ImplicitTLS && o.TLSConfig == nil {
		return nil, errors.New("smtptest: ImplicitTLS needs a TLSConfig")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, done: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	s.ln = ln
	var serveLn net.Listener = &trackingListener{Listener: ln, s: s}

	srv := gosmtp.NewServer(gosmtp.BackendFunc(s.newSession))
	srv.Domain = o.Domain
	if srv.Domain == "" {
		srv.Domain = "localhost"
	}
	srv.AllowInsecureAuth = o.AllowInsecureAuth
	srv.MaxMessageBytes = o.MaxMessageBytes
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if o.TLSConfig != nil {
		cfg := o.TLSConfig.Clone()
		if o.ImplicitTLS {
			serveLn = tls.NewListener(serveLn, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	s.srv = srv
	go func() {
		defer close(s.done)
		srv.Serve(serveLn)
	}()
	return s, nil
}

// Addr returns the address the server listens on, as "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Messages returns a copy of the messages accepted so far, in the order
// they were accepted (none with [Options.Discard]).
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	copy(out, s.messages)
	return out
}

// AuthAttempts returns how many AUTH exchanges reached the server, successful
// or not. A client that refuses to send credentials before TLS leaves it at 0.
func (s *Server) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// Sessions returns how many SMTP sessions (EHLO or HELO) the server started;
// a STARTTLS upgrade starts a new one.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Close stops the server: it closes the listener and every open connection
// and waits until the server's goroutines have returned. It is safe to call
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
	// The listener and connections are closed: Shutdown only waits for the
	// connection handlers to notice and return.
	s.srv.Shutdown(context.Background())
	<-s.done
	return err
}

// trackingListener records accepted connections so Close can close them.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.closed {
		c.Close()
		return c, nil // the handler sees a closed connection and returns
	}
	l.s.conns[c] = struct{}{}
	return &trackedConn{Conn: c, s: l.s}, nil
}

type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c.Conn)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

func (s *Server) newSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &session{s: s, tls: isTLS}, nil
}

type session struct {
	s    *Server
	tls  bool
	user string
	from string
	to   []string
}

var _ gosmtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if len(ss.s.opts.Users) == 0 {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.auths++
	ss.s.mu.Unlock()
	check := func(user, pass string) error {
		want, ok := ss.s.opts.Users[user]
		if !ok || want != pass {
			return gosmtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			if identity != "" && identity != user {
				return gosmtp.ErrAuthFailed
			}
			return check(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, gosmtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.s.opts.RequireAuth && ss.user == "" {
		return gosmtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if f := ss.s.opts.Rcpt; f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	m := Message{From: ss.from, To: append([]string(nil), ss.to...), Data: buf.Bytes(), User: ss.user, TLS: ss.tls}
	if f := ss.s.opts.Data; f != nil {
		if err := f(m); err != nil {
			return err
		}
	}
	if !ss.s.opts.Discard {
		ss.s.mu.Lock()
		ss.s.messages = append(ss.s.messages, m)
		ss.s.mu.Unlock()
	}
	return nil
}

func (ss *session) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login),
// which go-sasl offers only as a client: "Username:" and "Password:"
// challenges, the username possibly sent as the initial response.
type loginServer struct {
	check func(user, pass string) error
	user  []byte
	step  int
}

func (l *loginServer) Next(resp []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.user = resp
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(string(l.user), string(resp))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}
