package sockettest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"
)

// HandshakeTimeout bounds the server side of the TLS handshake that
// [NewTLSServer], [NewTLSEcho] and [NewTLSScripted] perform before handing a
// connection to their handler.
const HandshakeTimeout = 10 * time.Second

// Server is an in-process TCP server listening on 127.0.0.1 on a port chosen
// by the kernel. Create one with [NewServer], [NewTLSServer], [NewEcho],
// [NewTLSEcho], [NewScripted] or [NewTLSScripted], and stop it with
// [Server.Close]. Its methods are safe for concurrent use.
type Server struct {
	ln      *net.TCPListener
	tlsConf *tls.Config
	handle  handlerFunc

	wg        sync.WaitGroup
	closing   chan struct{} // closed when Close starts
	done      chan struct{} // closed when the first handler finishes, or by Close
	doneOnce  sync.Once
	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex
	closed   bool
	conns    map[*net.TCPConn]struct{}
	errs     []error
	accepted int
}

// connInfo describes one accepted connection to an internal handler.
type connInfo struct {
	id      int // 1-based accept order
	raw     *net.TCPConn
	closing <-chan struct{}
}

// handlerFunc handles one connection. conn is raw itself, or the server side
// of a completed TLS handshake over raw. A returned error is recorded.
type handlerFunc func(ci *connInfo, conn net.Conn) error

// NewServer starts a plain TCP server that calls handler for each accepted
// connection in its own goroutine and closes the connection when handler
// returns. handler must return once the connection is closed, which
// [Server.Close] does to connections still open.
func NewServer(handler func(net.Conn)) (*Server, error) {
	if handler == nil {
		return nil, errors.New("sockettest: NewServer: nil handler")
	}
	return newServer(nil, wrapHandler(handler))
}

// NewTLSServer starts a TLS server with configuration cfg. Each accepted
// connection first completes the server side of the TLS handshake (bounded by
// [HandshakeTimeout]); handler then receives the *tls.Conn. A failed handshake
// is recorded (see [Server.Errs]) and the connection is closed without
// calling handler.
func NewTLSServer(cfg *tls.Config, handler func(net.Conn)) (*Server, error) {
	if handler == nil {
		return nil, errors.New("sockettest: NewTLSServer: nil handler")
	}
	if cfg == nil {
		return nil, errors.New("sockettest: NewTLSServer: nil tls.Config")
	}
	return newServer(cfg, wrapHandler(handler))
}

func wrapHandler(handler func(net.Conn)) handlerFunc {
	return func(_ *connInfo, conn net.Conn) error {
		handler(conn)
		return nil
	}
}

func newServer(cfg *tls.Config, h handlerFunc) (*Server, error) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("sockettest: listen: %w", err)
	}
	if cfg != nil {
		cfg = cfg.Clone()
	}
	s := &Server{
		ln:      ln,
		tlsConf: cfg,
		handle:  h,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		conns:   make(map[*net.TCPConn]struct{}),
	}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Addr returns the address the server listens on, as "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns the host the server listens on: "127.0.0.1".
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port returns the TCP port the server listens on.
func (s *Server) Port() uint16 { return uint16(s.ln.Addr().(*net.TCPAddr).Port) }

// Errs returns a copy of the errors recorded so far by handlers, scripts and
// TLS handshakes, in the order they happened.
func (s *Server) Errs() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

// Accepted returns the number of connections accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Done returns a channel that is closed once the handler of the first
// accepted connection has finished and that connection is closed; any error
// it produced is already visible in [Server.Errs] by then. For a scripted
// server this means the first connection's script has run to its end. The
// channel is also closed when [Server.Close] returns, so a receive from it
// never blocks past Close.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops accepting connections, closes the connections still open and
// waits for every handler goroutine to return. It is safe to call more than
// once; later calls wait for the first one and return its result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		s.closeErr = s.ln.Close()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		s.doneOnce.Do(func() { close(s.done) })
	})
	return s.closeErr
}

// isClosed reports whether the server owning ci has started closing.
func isClosed(ci *connInfo) bool { return chanClosed(ci.closing) }

// chanClosed reports whether ch is closed, without blocking.
func chanClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (s *Server) record(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *Server) serve() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.AcceptTCP()
		if err != nil {
			if chanClosed(s.closing) || errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure such as running out of file descriptors:
			// record it and retry with a growing pause, as net/http does.
			s.record(fmt.Errorf("sockettest: accept: %w", err))
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.closing:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.accepted++
		ci := &connInfo{id: s.accepted, raw: c, closing: s.closing}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(ci)
	}
}

func (s *Server) serveConn(ci *connInfo) {
	defer s.wg.Done()
	var conn net.Conn = ci.raw
	if s.tlsConf != nil {
		conn = s.handshake(ci)
	}
	if conn != nil {
		if err := s.handle(ci, conn); err != nil {
			s.record(err)
		}
		conn.Close()
	}
	ci.raw.Close()
	s.mu.Lock()
	delete(s.conns, ci.raw)
	s.mu.Unlock()
	if ci.id == 1 {
		s.doneOnce.Do(func() { close(s.done) })
	}
}

// handshake runs the server side of the TLS handshake on ci.raw. It returns
// nil after recording the error if the handshake fails.
func (s *Server) handshake(ci *connInfo) net.Conn {
	tc := tls.Server(ci.raw, s.tlsConf)
	ci.raw.SetDeadline(time.Now().Add(HandshakeTimeout))
	if err := tc.Handshake(); err != nil {
		s.record(fmt.Errorf("sockettest: conn %d from %s: TLS handshake: %w", ci.id, ci.raw.RemoteAddr(), err))
		return nil
	}
	ci.raw.SetDeadline(time.Time{})
	return tc
}

// connName returns a short label for a connection in error messages.
func connName(ci *connInfo) string {
	return "conn " + strconv.Itoa(ci.id)
}
