package sockets

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// SocketInfo is what [Socket.Opened] reports once the connection is open.
type SocketInfo struct {
	// RemoteAddress is the peer's "ip:port" (for a proxied socket, the proxy's).
	RemoteAddress string
	// LocalAddress is this end's "ip:port".
	LocalAddress string
	// ALPN is the protocol negotiated by TLS, or "".
	ALPN string
}

// state flags, changed under Socket.mu and read atomically on the data path.
const (
	fClosed        uint32 = 1 << iota // the socket has ended (any reason)
	fEOF                              // ended because the peer's EOF was read: reads keep returning io.EOF
	fUpgraded                         // replaced by StartTLS
	fReadDone                         // the peer's EOF was read (allowHalfOpen true)
	fWriteDone                        // CloseWrite / Writable().Close
	fReadCancelled                    // Readable().Close
)

// Socket is an outbound TCP socket: the Sockets API's Socket as a [net.Conn].
//
// A Socket starts pending: [Connect] returns before the connection is open.
// Read, Write and the other I/O methods wait for it to open (honouring
// deadlines and Close) and fail with the connect error if it does not.
// All methods are safe for concurrent use.
//
// An open, idle Socket costs no goroutine and, beyond the connection it
// wraps, one allocation of this struct and one of its Closed channel: what
// only a pending socket needs lives in a pending struct dropped once the
// connect attempt has finished.
type Socket struct {
	addr  Address // normalized
	given string  // the address as the caller wrote it, for errors
	opts  Options // opts.SecureTransport is the socket's transport

	closed chan struct{} // closed once the socket has ended

	opened atomic.Bool   // conn and raw are set
	flags  atomic.Uint32 // fClosed, ...

	// Set once before opened is stored, then read-only.
	conn    net.Conn // what Read and Write use: raw or tlsConn
	raw     net.Conn // the transport
	tlsConn *tls.Conn

	rmu sync.Mutex // held during a read; StartTLS takes it to drain readers
	wmu sync.Mutex // held during a write

	mu      sync.Mutex
	pend    *pending     // while the connect attempt runs; nil once it has finished
	connErr error        // why the connect attempt failed
	err     error        // why the socket ended, nil for a clean ending
	wdl64   atomic.Int64 // the write deadline (UnixNano, 0 for none), for TLS writes
	tt      *tlsTransport
	onClose []func()
}

// pending is what a socket needs only while its connect attempt runs. The
// socket drops it when the attempt finishes; a waiter that took it before
// then still sees ready close.
type pending struct {
	ready    chan struct{} // closed once the connect attempt has finished
	cancel   context.CancelFunc
	run      func()      // the connect attempt, for whoever claims it first
	claimed  atomic.Bool // the attempt has been taken by its goroutine or by a waiter
	rdl, wdl pendingDeadline
	rd, wd   time.Time // deadlines set while pending
}

// pending returns the socket's pending state, or nil once the connect
// attempt has finished.
func (s *Socket) pending() *pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pend
}

var (
	_ net.Conn      = (*Socket)(nil)
	_ io.ReaderFrom = (*Socket)(nil)
	_ io.WriterTo   = (*Socket)(nil)
)

// Connect opens a TCP socket to address ("host:port"; IPv6 literals in
// brackets). It returns at once with the socket in the pending state; the
// connection (and, for SecureTransport "on", the TLS handshake) runs behind
// it. Use [Socket.Opened] to wait for it, or just start reading and writing.
//
// The error is only for what is known at once: a bad address, bad options,
// or a hostname- or port-level policy denial. Failures to connect surface on
// Opened, on I/O and on [Socket.Err].
//
// ctx bounds the connect attempt (dial and TLS handshake), not the socket's
// life: cancelling ctx after the socket opened has no effect. The attempt
// runs in a goroutine of its own, unless a Read or Write with no deadline
// set gets to it first and runs it in its own goroutine (saving a hand-off);
// a deadline set during such an attempt applies once it ends. A nil opts
// means the defaults; opts and its TLSConfig are copied, never modified.
func Connect(ctx context.Context, address string, opts *Options) (*Socket, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, &SocketError{Op: "connect", Addr: address, Err: err}
	}
	return connect(ctx, a, address, opts, false)
}

// Dial is [Connect] followed by waiting until the socket is open, with the
// connect attempt run in the caller's goroutine: the form drivers and dial
// functions want, where connect and TLS errors must surface at dial time.
// On error nothing is left open. ctx bounds the connect attempt only.
func Dial(ctx context.Context, address string, opts *Options) (*Socket, error) {
	a, err := ParseAddress(address)
	if err != nil {
		return nil, &SocketError{Op: "connect", Addr: address, Err: err}
	}
	return connect(ctx, a, address, opts, true)
}

// ConnectAddress is [Connect] with the structured address form. Hostname may
// be a bare IPv6 address ("::1").
func ConnectAddress(ctx context.Context, a Address, opts *Options) (*Socket, error) {
	if err := a.Validate(); err != nil {
		return nil, &SocketError{Op: "connect", Addr: a.String(), Err: err}
	}
	return connect(ctx, a, a.String(), opts, false)
}

// connect opens a socket; with wait it runs the attempt in the caller's
// goroutine and returns its error.
func connect(ctx context.Context, a Address, given string, opts *Options, wait bool) (*Socket, error) {
	o := opts.clone()
	if err := o.validate(); err != nil {
		return nil, &SocketError{Op: "connect", Addr: given, Err: err}
	}
	a = a.normalized()
	if err := checkConnect(ctx, &o, a); err != nil {
		return nil, &SocketError{Op: "connect", Addr: given, Err: err}
	}
	s := newSocket(a, given, o)
	if err := s.admit(); err != nil {
		return nil, &SocketError{Op: "connect", Addr: given, Err: err}
	}
	dctx, cancel := context.WithCancel(ctx)
	s.mu.Lock() // admit may have put s in a scope, which can close it
	s.pend.cancel = cancel
	closed := s.flags.Load()&fClosed != 0
	s.mu.Unlock()
	if closed {
		cancel() // the scope ended already: the attempt fails at once
	}
	attempt := func(ctx context.Context) (net.Conn, *tls.Conn, error) {
		raw, err := dial(ctx, &s.opts, a)
		if err != nil {
			return nil, nil, err
		}
		if s.opts.SecureTransport != SecureTransportOn {
			return raw, nil, nil
		}
		tc := s.tlsClient(raw, tlsConfig(s.opts.TLSConfig, a.Hostname))
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, nil, tlsError(a.String(), err)
		}
		return raw, tc, nil
	}
	if !wait {
		s.start(dctx, cancel, attempt)
		return s, nil
	}
	s.open(dctx, cancel, attempt)
	if err := s.connErr; err != nil {
		return nil, err
	}
	if !s.opened.Load() {
		return nil, &SocketError{Op: "connect", Addr: given, Err: ErrClosed}
	}
	return s, nil
}

// tlsClient starts TLS over raw through a tlsTransport, so that write
// deadlines do not corrupt the TLS stream.
func (s *Socket) tlsClient(raw net.Conn, cfg *tls.Config) *tls.Conn {
	s.tt = &tlsTransport{Conn: raw}
	return tls.Client(s.tt, cfg)
}

func newSocket(a Address, given string, o Options) *Socket {
	return &Socket{
		addr:   a,
		given:  given,
		opts:   o,
		closed: make(chan struct{}),
		pend:   &pending{ready: make(chan struct{})},
	}
}

// start runs the connect attempt behind a pending socket: in a goroutine
// of its own, unless a waiter claims it first (see waitOpen). A new
// goroutine's stack is small, and the dial path is deep enough that the
// runtime would grow it two or three times, copying every frame each time
// (a large part of Connect's cost over net.Dialer's); growStack grows it
// once while it is still shallow.
func (s *Socket) start(ctx context.Context, cancel context.CancelFunc, attempt func(context.Context) (net.Conn, *tls.Conn, error)) {
	p := s.pend
	p.run = func() { s.open(ctx, cancel, attempt) }
	go func() {
		if p.claimed.CompareAndSwap(false, true) {
			growStack()
			p.run()
		}
	}()
}

// growStack puts a growStackBytes frame on the stack, so that the runtime
// grows a shallow goroutine stack to fit a dial in one step.
//
//go:noinline
func growStack() {
	var buf [growStackBytes]byte
	keepFrame(buf[:])
}

const growStackBytes = 6 << 10

//go:noinline
func keepFrame([]byte) {}

// open runs the connect attempt and publishes its result. It is the only
// goroutine a socket has, and it ends when the socket is open or failed.
func (s *Socket) open(ctx context.Context, cancel context.CancelFunc, attempt func(context.Context) (net.Conn, *tls.Conn, error)) {
	raw, tc, err := attempt(ctx)
	cancel()
	s.mu.Lock()
	p := s.pend
	s.pend = nil
	if err != nil {
		if s.flags.Load()&fClosed != 0 && ctx.Err() != nil {
			err = ErrClosed // Close during the attempt cancelled it
		}
		s.connErr = &SocketError{Op: "connect", Addr: s.given, Err: err}
		s.mu.Unlock()
		close(p.ready)
		s.end(s.connErr, 0)
		return
	}
	var c net.Conn = raw
	if tc != nil {
		c = tc
		s.tlsConn = tc
	}
	s.conn, s.raw = c, raw
	if s.flags.Load()&(fClosed|fUpgraded) == fClosed {
		// Closed while the attempt ran: nothing will use the connection.
		s.mu.Unlock()
		c.Close()
		close(p.ready)
		return
	}
	if !p.rd.IsZero() {
		c.SetReadDeadline(p.rd)
	}
	if !p.wd.IsZero() {
		c.SetWriteDeadline(p.wd)
	}
	p.rdl.stop()
	p.wdl.stop()
	s.opened.Store(true)
	s.mu.Unlock()
	close(p.ready)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// end closes the socket once, recording cause (nil for a clean ending) and
// adding flag. Later calls do nothing.
func (s *Socket) end(cause error, flag uint32) {
	s.mu.Lock()
	f := s.flags.Load()
	if f&fClosed != 0 {
		s.mu.Unlock()
		return
	}
	s.flags.Store(f | fClosed | flag)
	s.err = cause
	var cancel context.CancelFunc
	if s.pend != nil {
		cancel = s.pend.cancel
	}
	var c net.Conn
	if s.opened.Load() && flag&fUpgraded == 0 {
		c = s.conn
	}
	hooks := s.onClose
	s.onClose = nil
	s.mu.Unlock()
	if cancel != nil && flag&fUpgraded == 0 {
		cancel()
	}
	if c != nil {
		c.Close()
	}
	close(s.closed)
	for _, h := range hooks {
		h()
	}
}

// AfterClose arranges for f to run once the socket has ended, whatever the
// ending (Close, the peer, a failure, a StartTLS upgrade), after Closed has
// fired and Err is set. f runs on the goroutine that ended the socket, or at
// once on the caller's if the socket has already ended, so it must not
// block. It costs no goroutine, unlike waiting on Closed.
func (s *Socket) AfterClose(f func()) { s.addCloseHook(f) }

// addCloseHook runs f once the socket has ended (at once if it already has).
func (s *Socket) addCloseHook(f func()) {
	s.mu.Lock()
	if s.flags.Load()&fClosed == 0 {
		s.onClose = append(s.onClose, f)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	f()
}

// waitOpen waits for a pending socket to open, honouring the read (or
// write) deadline and Close.
func (s *Socket) waitOpen(write bool) error {
	if s.opened.Load() {
		return nil
	}
	s.mu.Lock()
	p := s.pend
	// A waiter with no deadline that gets here before the goroutine Connect
	// started has run runs the attempt itself, as net.Dialer would: no
	// hand-off between goroutines. The cost: a deadline set by another
	// goroutine while it runs takes effect only once the attempt ends
	// (Close and the Connect context still bound it).
	inline := p != nil && p.run != nil && p.rd.IsZero() && p.wd.IsZero()
	s.mu.Unlock()
	if inline && p.claimed.CompareAndSwap(false, true) {
		p.run()
		p = nil
	}
	if p != nil {
		d := &p.rdl
		if write {
			d = &p.wdl
		}
		select {
		case <-p.ready:
		case <-s.closed:
		case <-d.wait():
			return os.ErrDeadlineExceeded
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connErr != nil {
		return s.connErr
	}
	if !s.opened.Load() {
		return ErrClosed
	}
	return nil
}

// Opened waits until the socket is open and reports where it is connected.
// For SecureTransport "on" and for a socket returned by StartTLS it waits for
// the TLS handshake too, so certificate errors surface here. ctx bounds only
// this wait. If the connect attempt failed, Opened returns its error.
func (s *Socket) Opened(ctx context.Context) (SocketInfo, error) {
	if p := s.pending(); p != nil {
		select {
		case <-p.ready:
		case <-s.closed:
			select {
			case <-p.ready:
			default:
				return SocketInfo{}, &SocketError{Op: "opened", Addr: s.given, Err: ErrClosed}
			}
		case <-ctx.Done():
			return SocketInfo{}, &SocketError{Op: "opened", Addr: s.given, Err: ctx.Err()}
		}
	}
	if err := s.waitOpen(false); err != nil {
		if se, ok := err.(*SocketError); ok {
			return SocketInfo{}, se
		}
		return SocketInfo{}, &SocketError{Op: "opened", Addr: s.given, Err: err}
	}
	info := SocketInfo{
		RemoteAddress: addrString(s.raw.RemoteAddr()),
		LocalAddress:  addrString(s.raw.LocalAddr()),
	}
	if s.tlsConn != nil {
		info.ALPN = s.tlsConn.ConnectionState().NegotiatedProtocol
	}
	return info, nil
}

// Closed returns a channel that is closed when the socket has ended: by
// Close, by the peer (EOF without allowHalfOpen, or both directions done
// with it), by a StartTLS upgrade, or by a failure. [Socket.Err] tells which.
func (s *Socket) Closed() <-chan struct{} { return s.closed }

// Err returns why the socket ended: nil while it is open and after a clean
// ending (Close, the peer's EOF, both sides closed, a StartTLS upgrade), the
// cause after a failure (connect error, reset, TLS error).
func (s *Socket) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Upgraded reports whether StartTLS has replaced this socket.
func (s *Socket) Upgraded() bool { return s.flags.Load()&fUpgraded != 0 }

// SecureTransport reports the socket's transport: "off", "on" or "starttls".
// A socket returned by StartTLS reports "on".
func (s *Socket) SecureTransport() SecureTransport { return s.opts.SecureTransport }

// Address returns the address the socket was opened to (brackets removed,
// hostname lower-cased).
func (s *Socket) Address() Address { return s.addr }

// ConnectionState returns the TLS state of an open TLS socket, and the zero
// state (HandshakeComplete false) for a plain or not yet open one. It has
// the signature of [tls.Conn.ConnectionState], for code that looks for it
// by interface. (net/http reads TLS state only from a *tls.Conn: for HTTP/2
// and Response.TLS, let the transport do TLS over a plain socket from
// DialContext.)
func (s *Socket) ConnectionState() tls.ConnectionState {
	if !s.opened.Load() || s.tlsConn == nil {
		return tls.ConnectionState{}
	}
	return s.tlsConn.ConnectionState()
}

// RawConn returns the raw connection of an open plain socket, as
// [net.TCPConn.SyscallConn] does, for code that inspects the descriptor
// (a pool's liveness check, socket options). It fails for a TLS socket, a
// socket that is not open yet, and a transport that has none. Reading or
// writing the descriptor directly bypasses the socket's state.
//
// It is not named SyscallConn on purpose: libraries such as go-redis and
// go-sql-driver/mysql look for [syscall.Conn], peek at the descriptor of a
// pooled connection, and drop the connection when SyscallConn fails, which
// a TLS socket must. [dialers.WithDescriptor] gives plain sockets the
// method where a pool wants it.
func (s *Socket) RawConn() (syscall.RawConn, error) {
	if !s.opened.Load() {
		return nil, s.opError("rawconn", errorf(ErrClosed, "the socket is not open"))
	}
	if f := s.flags.Load(); f&(fClosed|fUpgraded) != 0 {
		return nil, s.opError("rawconn", ErrClosed)
	}
	if s.tlsConn != nil {
		return nil, s.opError("rawconn", errorf(ErrInvalidOptions, "a TLS socket does not expose its descriptor"))
	}
	sc, ok := s.raw.(syscall.Conn)
	if !ok {
		return nil, s.opError("rawconn", errorf(ErrInvalidOptions, "the transport (Options.Dial or a proxy) has no descriptor"))
	}
	return sc.SyscallConn()
}

// Close closes both directions, unblocks pending Read, Write and Opened,
// and fires Closed. It is idempotent: a repeat, or a Close after the socket
// already ended (the peer's EOF included), returns nil. Later I/O fails with
// an error matching [net.ErrClosed].
func (s *Socket) Close() error {
	s.end(nil, 0)
	return nil
}

// Read reads from the socket; see [net.Conn]. It waits for a pending socket
// to open. At the peer's EOF it returns [io.EOF] and, unless AllowHalfOpen is
// set, shuts the write side and closes the socket cleanly.
func (s *Socket) Read(b []byte) (int, error) {
	if !s.opened.Load() {
		if err := s.waitOpen(false); err != nil {
			return 0, s.opError("read", err)
		}
	}
	s.rmu.Lock()
	if f := s.flags.Load(); f&(fClosed|fUpgraded|fReadDone|fReadCancelled) != 0 {
		s.rmu.Unlock()
		return 0, s.readStateErr(f)
	}
	n, err := s.conn.Read(b)
	s.rmu.Unlock()
	if e := s.opts.eg; e != nil && e.count != nil {
		e.count.BytesRead(int64(n))
	}
	if err != nil {
		err = s.readFailed(err)
	}
	return n, err
}

func (s *Socket) readStateErr(f uint32) error {
	switch {
	case f&fUpgraded != 0:
		return s.opError("read", errUpgraded)
	case f&(fEOF|fReadDone) != 0:
		return io.EOF
	case f&fReadCancelled != 0:
		return s.opError("read", errReadCancelled)
	default:
		return s.opError("read", ErrClosed)
	}
}

// readFailed turns a read error into the socket's ending where it is one.
func (s *Socket) readFailed(err error) error {
	if f := s.flags.Load(); f&(fClosed|fUpgraded|fReadCancelled) != 0 {
		return s.readStateErr(f)
	}
	if err == io.EOF {
		s.peerEOF()
		return io.EOF
	}
	if isTimeout(err) {
		return s.opError("read", err)
	}
	s.end(err, 0)
	return s.opError("read", err)
}

// peerEOF records the peer's EOF: the socket closes cleanly unless
// AllowHalfOpen keeps the write side open.
func (s *Socket) peerEOF() {
	if !s.opts.AllowHalfOpen {
		s.end(nil, fEOF)
		return
	}
	s.mu.Lock()
	f := s.flags.Load()
	s.flags.Store(f | fReadDone)
	s.mu.Unlock()
	if f&fWriteDone != 0 {
		s.end(nil, fEOF)
	}
}

// Write writes to the socket; see [net.Conn]. It waits for a pending socket
// to open; data written before then is sent once it opens.
func (s *Socket) Write(b []byte) (int, error) {
	if !s.opened.Load() {
		if err := s.waitOpen(true); err != nil {
			return 0, s.opError("write", err)
		}
	}
	s.wmu.Lock()
	if f := s.flags.Load(); f&(fClosed|fUpgraded|fWriteDone) != 0 {
		s.wmu.Unlock()
		return 0, s.writeStateErr(f)
	}
	var n int
	var err error
	if s.tlsConn != nil {
		n, err = s.tlsWrite(b)
	} else {
		n, err = s.conn.Write(b)
	}
	s.wmu.Unlock()
	if e := s.opts.eg; e != nil && e.count != nil {
		e.count.BytesWritten(int64(n))
	}
	if err != nil {
		err = s.writeFailed(err)
	}
	return n, err
}

func (s *Socket) writeStateErr(f uint32) error {
	switch {
	case f&fUpgraded != 0:
		return s.opError("write", errUpgraded)
	case f&fClosed != 0:
		return s.opError("write", ErrClosed)
	default:
		return s.opError("write", errWriteClosed)
	}
}

func (s *Socket) writeFailed(err error) error {
	if f := s.flags.Load(); f&(fClosed|fUpgraded|fWriteDone) != 0 {
		return s.writeStateErr(f)
	}
	if !isTimeout(err) {
		s.end(err, 0)
	}
	return s.opError("write", err)
}

// CloseWrite shuts the write side (sends FIN; on TLS, close_notify first).
// With AllowHalfOpen, the socket closes once the peer's EOF has been read
// too. It waits for a pending socket to open. A repeat returns nil.
func (s *Socket) CloseWrite() error {
	if err := s.waitOpen(true); err != nil {
		return s.opError("closewrite", err)
	}
	s.wmu.Lock()
	s.mu.Lock()
	f := s.flags.Load()
	if f&(fClosed|fUpgraded) != 0 {
		s.mu.Unlock()
		s.wmu.Unlock()
		if f&fUpgraded == 0 && f&fEOF != 0 {
			return nil // the socket already ended cleanly, write side included
		}
		return s.writeStateErr(f)
	}
	if f&fWriteDone != 0 {
		s.mu.Unlock()
		s.wmu.Unlock()
		return nil
	}
	s.flags.Store(f | fWriteDone)
	s.mu.Unlock()
	err := closeWrite(s.tlsConn, s.raw)
	s.wmu.Unlock()
	if f&(fReadDone|fReadCancelled) != 0 {
		s.end(nil, fEOF)
	}
	if err != nil {
		return s.opError("closewrite", err)
	}
	return nil
}

func closeWrite(tc *tls.Conn, raw net.Conn) error {
	if tc != nil {
		if err := tc.CloseWrite(); err != nil {
			return err
		}
	}
	if cw, ok := raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// cancelRead stops reading: later reads fail and a pending one is unblocked.
func (s *Socket) cancelRead() error {
	s.mu.Lock()
	f := s.flags.Load()
	if f&(fClosed|fReadCancelled) != 0 {
		s.mu.Unlock()
		return nil
	}
	s.flags.Store(f | fReadCancelled)
	if s.opened.Load() {
		s.conn.SetReadDeadline(aLongTimeAgo)
	}
	s.mu.Unlock()
	if f&fWriteDone != 0 {
		s.end(nil, 0)
	}
	return nil
}

var aLongTimeAgo = time.Unix(1, 0)

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *Socket) opError(op string, err error) error {
	if se, ok := err.(*SocketError); ok && se.Op == "connect" {
		return se
	}
	return &SocketError{Op: op, Addr: s.given, Err: err}
}

// LocalAddr returns this end's address; before the socket opens, an empty
// TCP address.
func (s *Socket) LocalAddr() net.Addr {
	if s.opened.Load() {
		return s.raw.LocalAddr()
	}
	return &net.TCPAddr{}
}

// RemoteAddr returns the peer's address. Before the socket opens it is the
// address being connected to: a *net.TCPAddr for an IP literal, and for a
// hostname a net.Addr whose String is "host:port" (code that needs a
// *net.TCPAddr should wait for [Socket.Opened], or use [Dial]).
func (s *Socket) RemoteAddr() net.Addr {
	if s.opened.Load() {
		return s.raw.RemoteAddr()
	}
	if ip, err := netip.ParseAddr(s.addr.Hostname); err == nil {
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(s.addr.Port)))
	}
	return pendingAddr(s.addr.String())
}

type pendingAddr string

func (pendingAddr) Network() string  { return "tcp" }
func (a pendingAddr) String() string { return string(a) }

// SetDeadline sets the read and write deadlines; see [net.Conn]. On a
// pending socket it bounds I/O that waits for the socket to open.
func (s *Socket) SetDeadline(t time.Time) error {
	if err := s.SetReadDeadline(t); err != nil {
		return err
	}
	return s.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline; see [net.Conn].
func (s *Socket) SetReadDeadline(t time.Time) error { return s.setDeadline(t, false) }

// SetWriteDeadline sets the write deadline; see [net.Conn].
func (s *Socket) SetWriteDeadline(t time.Time) error { return s.setDeadline(t, true) }

func (s *Socket) setDeadline(t time.Time, write bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flags.Load()
	switch {
	case f&fUpgraded != 0:
		return s.opError("set deadline", errUpgraded)
	case f&fClosed != 0:
		return s.opError("set deadline", ErrClosed)
	case s.opened.Load():
		if write {
			s.storeWriteDeadline(t)
			return s.conn.SetWriteDeadline(t)
		}
		if f&fReadCancelled != 0 {
			return nil
		}
		return s.conn.SetReadDeadline(t)
	case s.pend == nil:
		// The connect attempt has just failed; I/O fails with its error.
	case write:
		s.pend.wd = t
		s.storeWriteDeadline(t)
		s.pend.wdl.set(t)
	default:
		s.pend.rd = t
		s.pend.rdl.set(t)
	}
	return nil
}

func (s *Socket) storeWriteDeadline(t time.Time) {
	if t.IsZero() {
		s.wdl64.Store(0)
	} else {
		s.wdl64.Store(t.UnixNano())
	}
}

var osErrDeadline = os.ErrDeadlineExceeded
