package sockets

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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
	fConnFailed                       // ended because the connect attempt failed: err is its error
)

// Socket is an outbound TCP socket: the Sockets API's Socket as a [net.Conn].
//
// A Socket starts pending: [Connect] returns before the connection is open.
// Read, Write and the other I/O methods wait for it to open (honouring
// deadlines and Close) and fail with the connect error if it does not.
// All methods are safe for concurrent use.
//
// An open, idle Socket costs no goroutine and, beyond the connection it
// wraps, one allocation of this struct (176 bytes on 64-bit platforms):
// the full options and what only a pending socket needs live in a pending
// struct dropped once the connect attempt has finished, and the Closed
// channel is made only when asked for.
//
// Sockets come from [Connect], [Dial], [ConnectAddress] and
// [Socket.StartTLS]. The zero Socket is one that has ended: Closed has
// fired, I/O fails with [ErrClosed], Close returns nil. On a nil *Socket,
// Close returns an error matching [os.ErrInvalid] (as a nil *os.File's
// does), Closed returns a closed channel and Err and AfterClose act as on an
// ended socket; its other methods panic, as a nil *tls.Conn's do.
type Socket struct {
	addr  Address // normalized
	given string  // the address as the caller wrote it, for errors
	opts  kept    // what the socket keeps of its options

	opened   atomic.Bool // raw (and tlsConn) are set
	secure   uint8       // the transport: secureOff, secureOn or secureStartTLS
	halfOpen bool        // Options.AllowHalfOpen
	flags    atomic.Uint32

	// Set once before opened is stored, then read-only. Read and Write use
	// tlsConn when it is set, raw otherwise.
	raw     net.Conn // the transport
	tlsConn *tls.Conn

	rmu sync.Mutex // held during a read; StartTLS takes it to drain readers
	wmu sync.Mutex // held during a write

	mu      sync.Mutex
	closed  chan struct{} // made by Closed; closed once the socket has ended
	pend    *pending      // while the connect attempt runs; nil once it has finished
	err     error         // why the socket ended, nil for a clean ending
	wdl64   atomic.Int64  // the write deadline (UnixNano, 0 for none), for TLS writes
	taps    *layerTaps    // the TLSLayers among the Layers; nil when there are none
	onClose *[]func()
}

// kept is what a socket keeps of its Options once open.
type kept struct {
	TLSConfig *tls.Config // for StartTLS ("starttls" only; our clone)
	eg        *egress
}

// The values of Socket.secure.
const (
	secureOff uint8 = iota
	secureOn
	secureStartTLS
)

func secureCode(t SecureTransport) uint8 {
	switch t {
	case SecureTransportOn:
		return secureOn
	case SecureTransportStartTLS:
		return secureStartTLS
	}
	return secureOff
}

// conn is what Read and Write use: the TLS connection or the transport.
func (s *Socket) conn() net.Conn {
	if s.taps != nil && s.taps.view != nil {
		return s.taps.view
	}
	if s.tlsConn != nil {
		return s.tlsConn
	}
	return s.raw
}

// transport is the tlsTransport under a TLS socket's *tls.Conn.
func (s *Socket) transport() *tlsTransport {
	t, _ := s.tlsConn.NetConn().(*tlsTransport)
	return t
}

// noCancel is the cancel function of an attempt that nothing can cancel
// but its own context.
func noCancel() {}

// closedChan is the Closed channel of a socket that ended before anyone
// asked for one.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// pending is what a socket needs only while its connect attempt runs. The
// socket drops it when the attempt finishes; a waiter that took it before
// then still sees ready close.
type pending struct {
	// ready is closed once the connect attempt has finished (s.pend is no
	// longer p), ended when the socket ends while pending. Both are made by
	// the first waiter (see waitChans): an attempt claimed at once needs
	// neither.
	ready, ended chan struct{}
	err          error // why the attempt failed, set before s.pend is dropped
	ctxDone      <-chan struct{}
	cancel       context.CancelFunc
	s            *Socket         // set by prepare: the attempt is ready to run
	actx         context.Context // the attempt's context
	// attempt is the connect attempt of a socket StartTLS returned; nil for
	// Connect's, which is dialAttempt with o and a.
	attempt func(context.Context) (net.Conn, *tls.Conn, error)
	o       Options      // Connect's options (our copy)
	a       Address      // Connect's normalized address
	queued  atomic.Int64 // when it was scheduled (a time.Duration on the starter's clock); 0 when not queued
	claimed atomic.Bool  // the attempt has been taken by a goroutine or a waiter
	rdl     pendingDeadline
	wdl     pendingDeadline
	rd, wd  time.Time // deadlines set while pending
}

// runHere runs the connect attempt in the caller's goroutine unless it has
// been claimed already; it reports whether it ran it.
func (p *pending) runHere() bool {
	if !p.claim() {
		return false
	}
	p.s.open(p, false)
	return true
}

// claim takes the attempt for the caller, once, and takes it off the
// starter's queue.
func (p *pending) claim() bool {
	if p.s == nil || !p.claimed.CompareAndSwap(false, true) {
		return false
	}
	if p.queued.Load() != 0 {
		unqueue(p)
	}
	return true
}

// background starts the connect attempt in a goroutine of its own unless it
// has been claimed already. A new goroutine's stack is small, and the dial
// path is deep enough that the runtime would grow it two or three times,
// copying every frame each time; growStack grows it once while it is still
// shallow. A panic in code the caller supplied becomes the connect error.
func (p *pending) background() {
	if !p.claim() {
		return
	}
	go func() {
		growStack()
		p.s.open(p, true)
	}()
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
// runs in the goroutine that first waits for it, as a dial would: Opened
// with ctx (or a context that is never done), or a Read or Write with no
// deadline set; a deadline set during such an attempt applies once it ends.
// Otherwise (Opened with another context, I/O with a deadline, Closed,
// AfterClose, Err, or nothing at all within about a millisecond) it runs in
// a goroutine of its own. So the common Connect-then-Opened or
// Connect-then-Write costs no goroutine hand-off. A nil opts means the
// defaults; opts and its TLSConfig are copied, never modified.
func Connect(ctx context.Context, address string, opts *Options) (*Socket, error) {
	a, err := ParseAddress(address)
	if err != nil {
		host, port := splitSpelling(address)
		return nil, &SocketError{Op: "connect", Addr: address, Err: refusedSpelling(ctx, host, port, opts, err)}
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
		host, port := splitSpelling(address)
		return nil, &SocketError{Op: "connect", Addr: address, Err: refusedSpelling(ctx, host, port, opts, err)}
	}
	return connect(ctx, a, address, opts, true)
}

// ConnectAddress is [Connect] with the structured address form. Hostname may
// be a bare IPv6 address ("::1").
func ConnectAddress(ctx context.Context, a Address, opts *Options) (*Socket, error) {
	if err := a.Validate(); err != nil {
		return nil, &SocketError{Op: "connect", Addr: a.String(), Err: refusedSpelling(ctx, a.Hostname, a.Port, opts, err)}
	}
	return connect(ctx, a, a.String(), opts, false)
}

// connect opens a socket; with wait it runs the attempt in the caller's
// goroutine and returns its error.
func connect(ctx context.Context, a Address, given string, opts *Options, wait bool) (*Socket, error) {
	if ctx == nil {
		return nil, &SocketError{Op: "connect", Addr: given, Err: errorf(ErrInvalidOptions, "nil context; pass context.Background() or a request's context")}
	}
	p := &pending{o: opts.clone()}
	o := &p.o
	if err := o.validate(); err != nil {
		return nil, &SocketError{Op: "connect", Addr: given, Err: err}
	}
	a = a.normalized()
	if err := checkConnect(ctx, o, a); err != nil {
		return nil, &SocketError{Op: "connect", Addr: given, Err: err}
	}
	p.a = a
	s := newSocket(a, given, o, p)
	s.taps = newLayerTaps(o.Layers)
	// The attempt is ready before admit puts s in a scope, whose end may
	// close s (and so cancel or claim the attempt) at any time.
	dctx, cancel := ctx, noCancel
	if !wait || (o.eg != nil && o.eg.scope != nil) {
		// Close may come from another goroutine while the attempt runs
		// (the caller's, or the scope's end): it cancels the attempt. A
		// Dial outside a scope hands s to no one before the attempt
		// ends, so it dials under the caller's context as it is (which
		// spares net a cancel context to watch).
		dctx, cancel = context.WithCancel(ctx)
	}
	s.prepare(dctx, cancel, nil)
	p.ctxDone = ctx.Done()
	if err := s.admit(); err != nil {
		cancel()
		return nil, &SocketError{Op: "connect", Addr: given, Err: err}
	}
	if !wait {
		schedule(p)
		return s, nil
	}
	if err := p.runAndWait("connect"); err != nil {
		return nil, err
	}
	return s, nil
}

// runAndWait runs the attempt in the caller's goroutine, or waits for it if
// something claimed it first (the socket's scope ended and closed it), and
// returns its error; op names the call for a socket closed before it opened.
func (p *pending) runAndWait(op string) error {
	s := p.s
	if !p.runHere() {
		ready, _ := p.waitChans()
		<-ready
	}
	if err := s.connFailure(p); err != nil {
		return err
	}
	if !s.opened.Load() {
		return &SocketError{Op: op, Addr: s.given, Err: ErrClosed}
	}
	return nil
}

// dialAttempt is Connect's attempt: the dial and, for SecureTransport
// "on", the TLS handshake.
func (p *pending) dialAttempt(ctx context.Context) (net.Conn, *tls.Conn, error) {
	s, o, a := p.s, &p.o, p.a
	raw, err := dial(s.taps.bind(ctx), o, a, s.given)
	if err != nil {
		return nil, nil, err
	}
	if o.SecureTransport != SecureTransportOn {
		return raw, nil, nil
	}
	// o.TLSConfig is this socket's own clone: set its defaults in place
	// rather than clone it again (a second *tls.Config per socket would
	// stay live as long as the connection).
	cfg := o.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{}
	}
	setTLSDefaults(cfg, a.Hostname)
	tc := s.tlsClient(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, nil, tlsError(a.String(), cfg.ServerName, false, err)
	}
	return raw, tc, nil
}

// tlsClient starts TLS over raw through a tlsTransport, so that write
// deadlines do not corrupt the TLS stream. The socket's TLSLayers see cfg
// first.
func (s *Socket) tlsClient(raw net.Conn, cfg *tls.Config) *tls.Conn {
	if s.taps != nil {
		s.taps.handshake(cfg)
	}
	return tls.Client(&tlsTransport{Conn: raw}, cfg)
}

// newSocket makes a pending socket with p (new when nil) as its pending
// state.
func newSocket(a Address, given string, o *Options, p *pending) *Socket {
	if p == nil {
		p = new(pending)
	}
	s := &Socket{
		addr:     a,
		given:    given,
		secure:   secureCode(o.SecureTransport),
		halfOpen: o.AllowHalfOpen,
		pend:     p,
	}
	s.opts.eg = o.eg
	if s.secure == secureStartTLS {
		s.opts.TLSConfig = o.TLSConfig
	}
	return s
}

// prepare makes the connect attempt behind a pending socket ready to run:
// in the goroutine of the first waiter that claims it (see waitOpen and
// Opened), or, once scheduled, in a goroutine of its own if none does soon.
// It runs before anything else can see the socket.
// A nil attempt means Connect's (pending.dialAttempt).
func (s *Socket) prepare(ctx context.Context, cancel context.CancelFunc, attempt func(context.Context) (net.Conn, *tls.Conn, error)) {
	p := s.pend
	p.actx, p.cancel, p.attempt = ctx, cancel, attempt
	p.s = s
}

// The attempts that no waiter has claimed yet wait in one queue. A
// Connect followed at once by Opened, Read or Write (nearly every one) is
// claimed, and taken off the queue, within microseconds, so it costs
// neither a goroutine nor a timer of its own. An attempt nothing claims
// starts in a goroutine of its own once it is startDelay old: at the next
// Connect or claim of any socket after that (a program that opens sockets
// does so often), or else when the starter's timer fires, at most
// idleDelay after its Connect.
//
// The timer is due only while attempts are queued: Connect arms it when it
// is not due, and the claim that empties the queue parks it (see parkLocked). A
// timer due soon while a connection waits on the network is not free: with
// one pending, a loop of net.Dialer dial, 1-byte read and close (the
// goroutine parks in the read) cost 11 µs more CPU per connection on a
// 2-core virtual machine than with none. It is armed to the due time when a
// claim leaves attempts queued (Connect, Connect, Opened of the second).
var starter struct {
	mu      sync.Mutex
	queue   []*pending    // oldest first
	armedAt time.Duration // when the timer fires, on the starter's clock; 0 when not armed
	timer   *time.Timer

	arms, parks int // how often the timer was armed and parked (for tests)
}

// starterEpoch is the origin of the starter's monotonic clock.
var starterEpoch = time.Now()

const (
	// startDelay is how old an attempt nothing has claimed is when it
	// starts in a goroutine of its own, while the program goes on using
	// sockets.
	startDelay = time.Millisecond
	// idleDelay bounds how long such an attempt waits otherwise.
	idleDelay = 10 * time.Millisecond
)

func schedule(p *pending) {
	now := max(time.Since(starterEpoch), 1)
	p.queued.Store(int64(now))
	starter.mu.Lock()
	due := takeDueLocked(now - startDelay)
	starter.queue = append(starter.queue, p)
	armLocked(now, now+idleDelay)
	starter.mu.Unlock()
	startAll(due)
}

// unqueue takes p, just claimed, off the queue. Claimed at once after its
// Connect, p is at or near the tail. Attempts left queued that are due
// start now; if some remain, the timer is armed for the oldest, and if
// none do, it is parked.
func unqueue(p *pending) {
	now := time.Since(starterEpoch)
	starter.mu.Lock()
	q := starter.queue
	for i := len(q) - 1; i >= 0 && i >= len(q)-unqueueDepth; i-- {
		if q[i] == p {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			starter.queue = q[:len(q)-1]
			break
		}
	}
	due := takeDueLocked(now - startDelay)
	if len(starter.queue) > 0 {
		armLocked(now, time.Duration(starter.queue[0].queued.Load())+startDelay)
	} else if starter.armedAt != 0 {
		parkLocked()
	}
	starter.mu.Unlock()
	startAll(due)
}

// parkLocked moves the timer, due soon and with nothing left to start, an
// hour ahead (parkDelay), where it costs nothing (should it fire, it finds
// nothing due). Neither stopping it here, microseconds after Connect armed
// it, nor leaving it due until the claimed attempt ends is as cheap: on a
// 2-core virtual machine, stopping it cost a dial, 1-byte read and close
// loop 45 µs of CPU and 3.3 voluntary context switches per connection, and
// stopping it when the attempt ended kept it due during the dial and the
// handshake, which cost the TLS connect row 1.06 (against 1.03 parked).
func parkLocked() {
	starter.timer.Reset(parkDelay)
	starter.armedAt = 0
	starter.parks++
}

// parkDelay is how far ahead a parked timer is set.
const parkDelay = time.Hour

// unqueueDepth is how far from the queue's tail unqueue looks; an attempt
// claimed further in stays until the queue's head reaches it.
const unqueueDepth = 8

// takeDueLocked removes from the head of the queue the attempts queued at
// or before cutoff, and returns those not yet claimed.
func takeDueLocked(cutoff time.Duration) []*pending {
	q := starter.queue
	n := 0
	var due []*pending
	for n < len(q) && time.Duration(q[n].queued.Load()) <= cutoff {
		if !q[n].claimed.Load() {
			due = append(due, q[n])
		}
		q[n] = nil
		n++
	}
	if n > 0 {
		starter.queue = q[n:]
		if len(starter.queue) == 0 {
			starter.queue = q[:0]
		}
	}
	return due
}

// armLocked makes the timer fire no later than at.
func armLocked(now, at time.Duration) {
	if starter.armedAt != 0 && starter.armedAt <= at {
		return
	}
	starter.armedAt = at
	starter.arms++
	if starter.timer == nil {
		starter.timer = time.AfterFunc(at-now, startQueued)
	} else {
		starter.timer.Reset(at - now)
	}
}

// startQueued runs when the timer fires: it starts the attempts that are
// due and arms the timer again for the oldest of the others.
func startQueued() {
	now := time.Since(starterEpoch)
	starter.mu.Lock()
	starter.armedAt = 0
	due := takeDueLocked(now - startDelay)
	if len(starter.queue) > 0 {
		armLocked(now, time.Duration(starter.queue[0].queued.Load())+startDelay)
	}
	starter.mu.Unlock()
	startAll(due)
}

func startAll(due []*pending) {
	for _, p := range due {
		p.background()
	}
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
//
// With guard (the attempt runs in a goroutine the package started), a panic
// in code the caller supplied becomes the connect error.
func (s *Socket) open(p *pending, guard bool) {
	ctx := p.actx
	var raw net.Conn
	var tc *tls.Conn
	err := ctx.Err() // closed before the attempt started: do not start it
	if err == nil {
		raw, tc, err = runAttempt(ctx, p, guard)
	}
	p.cancel()
	s.mu.Lock()
	s.pend = nil
	ready := p.ready // a waiter that comes later sees pend dropped
	if err != nil {
		if s.flags.Load()&fClosed != 0 && ctx.Err() != nil {
			err = ErrClosed // Close during the attempt cancelled it
			if se, ok := s.err.(*SocketError); ok {
				err = se // the socket ended with a cause (its scope ended while it waited)
			}
		}
		if se, ok := err.(*SocketError); ok && se.Op == "connect" {
			p.err = se
		} else {
			p.err = &SocketError{Op: "connect", Addr: s.given, Err: err}
		}
		if f := s.flags.Load(); f&fClosed == 0 {
			// Recorded with pend dropped, so that a waiter that sees the
			// attempt finished also sees why it failed.
			s.flags.Store(f | fConnFailed)
			s.err = p.err
		}
		s.mu.Unlock()
		closeIfMade(ready)
		s.end(p.err, fConnFailed)
		return
	}
	var c net.Conn = raw
	if tc != nil {
		c = tc
		s.tlsConn = tc
		if s.taps != nil {
			s.taps.view = s.taps.plain(tc) // a TLSLayer's view of the plaintext
			c = s.taps.view
		}
	}
	s.raw = raw
	if s.flags.Load()&(fClosed|fUpgraded) == fClosed {
		// Closed while the attempt ran: nothing will use the connection.
		s.mu.Unlock()
		c.Close()
		closeIfMade(ready)
		return
	}
	if !p.rd.IsZero() && p.rd.Equal(p.wd) {
		c.SetDeadline(p.rd) // one timer for both, as SetDeadline
	} else {
		if !p.rd.IsZero() {
			c.SetReadDeadline(p.rd)
		}
		if !p.wd.IsZero() {
			c.SetWriteDeadline(p.wd)
		}
	}
	p.rdl.stop()
	p.wdl.stop()
	s.opened.Store(true)
	s.mu.Unlock()
	closeIfMade(ready)
}

// waitChans returns, for a waiter, ready (closed once the attempt has
// finished) and ended (closed once the socket ended while pending), made
// now if no waiter has made them yet. Once the attempt has finished,
// ready is closedChan and ended nil (it can no longer end pending); once
// the socket has ended, ended is closedChan.
func (p *pending) waitChans() (ready, ended <-chan struct{}) {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pend != p {
		return closedChan, nil
	}
	if p.ready == nil {
		p.ready = make(chan struct{})
	}
	if s.flags.Load()&fClosed != 0 {
		return p.ready, closedChan
	}
	if p.ended == nil {
		p.ended = make(chan struct{})
	}
	return p.ready, p.ended
}

// closeIfMade closes c unless no waiter made it.
func closeIfMade(c chan struct{}) {
	if c != nil {
		close(c)
	}
}

// runAttempt calls attempt; with guard, a panic in it (in an Options.Dial,
// a Layer, a Proxy's dial function, a resolver or a TLS callback the caller
// supplied) is returned as an error rather than crashing the program from a
// goroutine the caller did not start.
func runAttempt(ctx context.Context, p *pending, guard bool) (raw net.Conn, tc *tls.Conn, err error) {
	if guard {
		defer func() {
			if v := recover(); v != nil {
				raw, tc = nil, nil
				err = errorf(ErrInvalidOptions, "the connect attempt panicked in code given in Options (Dial, a Layer, a Proxy, a Resolver or a TLS callback): "+fmt.Sprint(v))
			}
		}()
	}
	if p.attempt != nil {
		return p.attempt(ctx)
	}
	return p.dialAttempt(ctx)
}

// addrString is a.String(), with one allocation for a TCP address.
func addrString(a net.Addr) string {
	if ap, ok := tcpAddrPort(a); ok {
		return ap.String()
	}
	switch a := a.(type) {
	case nil:
		return ""
	case *net.TCPAddr:
		if a == nil {
			return "<nil>"
		}
	}
	return a.String()
}

// addrStrings is addrString of both addresses, with one allocation for
// the two when both are TCP addresses.
func addrStrings(a, b net.Addr) (string, string) {
	ap, okA := tcpAddrPort(a)
	bp, okB := tcpAddrPort(b)
	if !okA || !okB {
		return addrString(a), addrString(b)
	}
	var buf [2 * len("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")]byte
	out := ap.AppendTo(buf[:0])
	n := len(out)
	both := string(bp.AppendTo(out))
	return both[:n], both[n:]
}

// tcpAddrPort is a TCP address as an AddrPort, an IPv4-mapped IPv6
// address unmapped; false for anything else.
func tcpAddrPort(a net.Addr) (netip.AddrPort, bool) {
	t, ok := a.(*net.TCPAddr)
	if !ok || t == nil {
		return netip.AddrPort{}, false
	}
	ap := t.AddrPort()
	ip := ap.Addr()
	if !ip.IsValid() {
		return netip.AddrPort{}, false
	}
	if ip.Is4In6() {
		ap = netip.AddrPortFrom(ip.Unmap(), ap.Port())
	}
	return ap, true
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
	if f&fConnFailed == 0 {
		s.err = cause
	}
	p := s.pend
	var ended chan struct{}
	if p != nil {
		ended = p.ended // a waiter that comes later sees fClosed
	}
	var c net.Conn
	if s.opened.Load() && flag&fUpgraded == 0 {
		c = s.conn()
	}
	var hooks []func()
	if s.onClose != nil {
		hooks = *s.onClose
		s.onClose = nil
	}
	ch := s.closed
	s.mu.Unlock()
	if p != nil {
		closeIfMade(ended)
		if flag&fUpgraded == 0 {
			if p.cancel != nil {
				p.cancel()
			}
			// An attempt nobody has started yet ends here, without
			// dialling (its context is done).
			p.runHere()
		}
	}
	if c != nil {
		c.Close()
	}
	if ch != nil {
		close(ch)
	}
	if e := s.opts.eg; e.tracked() {
		e.leave(s)
	}
	for _, h := range hooks {
		h()
	}
}

// AfterClose arranges for f to run once the socket has ended, whatever the
// ending (Close, the peer, a failure, a StartTLS upgrade), after Closed has
// fired and Err is set. f runs on the goroutine that ended the socket, or at
// once on the caller's if the socket has already ended, so it must not
// block. It costs no goroutine, unlike waiting on Closed.
// On a pending socket it starts the connect attempt if nothing has yet.
//
// A nil f does nothing.
func (s *Socket) AfterClose(f func()) {
	if f == nil {
		return
	}
	if s == nil {
		f()
		return
	}
	if p := s.addCloseHook(f); p != nil {
		p.background()
	}
}

// addCloseHook runs f once the socket has ended (at once if it already has).
// It returns the socket's pending state, if any.
func (s *Socket) addCloseHook(f func()) *pending {
	s.mu.Lock()
	if s.flags.Load()&fClosed == 0 && !s.zero() {
		if s.onClose == nil {
			s.onClose = new([]func())
		}
		*s.onClose = append(*s.onClose, f)
		p := s.pend
		s.mu.Unlock()
		return p
	}
	s.mu.Unlock()
	f()
	return nil
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
	inline := p != nil && p.rd.IsZero() && p.wd.IsZero()
	s.mu.Unlock()
	q := p
	if inline && p.runHere() {
		p = nil
	}
	if p != nil {
		p.background()
		d := &p.rdl
		if write {
			d = &p.wdl
		}
		ready, ended := p.waitChans()
		select {
		case <-ready:
		case <-ended:
		case <-d.wait():
			return os.ErrDeadlineExceeded
		}
	}
	if s.opened.Load() {
		return nil
	}
	if err := s.connFailure(q); err != nil {
		return err
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if se, ok := err.(*SocketError); ok && se.Op == "connect" {
		return se // ended with a cause before the attempt did
	}
	return ErrClosed
}

// connFailure returns the error of a failed connect attempt, or nil. p is
// the pending state the caller waited on, if any.
func (s *Socket) connFailure(p *pending) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p != nil && s.pend != p && p.err != nil {
		return p.err
	}
	if s.flags.Load()&fConnFailed != 0 {
		return s.err
	}
	return nil
}

// Opened waits until the socket is open and reports where it is connected.
// For SecureTransport "on" and for a socket returned by StartTLS it waits for
// the TLS handshake too, so certificate errors surface here. ctx bounds only
// this wait. If the connect attempt failed, Opened returns its error.
func (s *Socket) Opened(ctx context.Context) (SocketInfo, error) {
	if p := s.pending(); p != nil {
		// Run the attempt here, as Dial does, when this wait is bounded
		// by nothing the attempt's own context does not already bound.
		ran := false
		if d := ctx.Done(); d == nil || d == p.ctxDone {
			ran = p.runHere()
		}
		if !ran {
			p.background()
			ready, ended := p.waitChans()
			select {
			case <-ready:
			case <-ended:
				select {
				case <-ready:
				default:
					s.mu.Lock()
					err := s.err
					s.mu.Unlock()
					if se, ok := err.(*SocketError); ok {
						return SocketInfo{}, se // ended with a cause before the attempt did
					}
					return SocketInfo{}, &SocketError{Op: "opened", Addr: s.given, Err: ErrClosed}
				}
			case <-ctx.Done():
				return SocketInfo{}, &SocketError{Op: "opened", Addr: s.given, Err: ctx.Err()}
			}
		}
		if p.err != nil {
			return SocketInfo{}, p.err.(*SocketError)
		}
	}
	if err := s.waitOpen(false); err != nil {
		if se, ok := err.(*SocketError); ok {
			return SocketInfo{}, se
		}
		return SocketInfo{}, &SocketError{Op: "opened", Addr: s.given, Err: err}
	}
	var info SocketInfo
	info.RemoteAddress, info.LocalAddress = addrStrings(s.raw.RemoteAddr(), s.raw.LocalAddr())
	if s.tlsConn != nil {
		info.ALPN = s.tlsConn.ConnectionState().NegotiatedProtocol
	}
	return info, nil
}

// Closed returns a channel that is closed when the socket has ended: by
// Close, by the peer (EOF without allowHalfOpen, or both directions done
// with it), by a StartTLS upgrade, or by a failure. [Socket.Err] tells which.
// The channel is made on the first call (an idle socket nobody watches
// costs none); on a pending socket that call also starts the connect
// attempt if nothing has yet.
func (s *Socket) Closed() <-chan struct{} {
	if s == nil {
		return closedChan
	}
	s.mu.Lock()
	if s.closed == nil {
		if s.flags.Load()&fClosed != 0 || s.zero() {
			s.mu.Unlock()
			return closedChan
		}
		s.closed = make(chan struct{})
	}
	c, p := s.closed, s.pend
	s.mu.Unlock()
	if p != nil {
		p.background()
	}
	return c
}

// Err returns why the socket ended: nil while it is open and after a clean
// ending (Close, the peer's EOF, both sides closed, a StartTLS upgrade), the
// cause after a failure (connect error, reset, TLS error).
func (s *Socket) Err() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	err, p := s.err, s.pend
	s.mu.Unlock()
	if p != nil {
		p.background() // someone is watching: let the attempt run
	}
	return err
}

// Upgraded reports whether StartTLS has replaced this socket.
func (s *Socket) Upgraded() bool { return s.flags.Load()&fUpgraded != 0 }

// SecureTransport reports the socket's transport: "off", "on" or "starttls".
// A socket returned by StartTLS reports "on".
func (s *Socket) SecureTransport() SecureTransport {
	switch s.secure {
	case secureOn:
		return SecureTransportOn
	case secureStartTLS:
		return SecureTransportStartTLS
	}
	return SecureTransportOff
}

// Address returns the address the socket was opened to (brackets removed,
// hostname lower-cased, a trailing dot kept: it is the name dialled).
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
	if s == nil {
		return errNilSocket
	}
	s.end(nil, 0)
	return nil
}

var errNilSocket = &SocketError{Op: "close", Err: os.ErrInvalid}

// zero reports whether s is the zero Socket (never connected, never
// pending), which acts as one that has ended. Called with s.mu held.
func (s *Socket) zero() bool {
	return s.pend == nil && !s.opened.Load() && s.raw == nil && s.given == ""
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
	var n int
	var err error
	if tc := s.tlsConn; tc != nil && s.taps == nil {
		n, err = tc.Read(b)
	} else {
		n, err = s.conn().Read(b) // the transport, or a TLSLayer's view of the plaintext
	}
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
	if !s.halfOpen {
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
		n, err = s.raw.Write(b)
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
	if err != nil && errors.Is(err, net.ErrClosed) && s.flags.Load()&(fEOF|fUpgraded) == fEOF {
		// The peer's EOF arrived while the write side was closing (after
		// the TLS close_notify, before the TCP FIN), and the socket, done
		// both ways, closed the connection: the write side is closed.
		err = nil
	}
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
		s.conn().SetReadDeadline(aLongTimeAgo)
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
	s.mu.Lock()
	if s.opened.Load() && s.flags.Load()&(fUpgraded|fClosed|fReadCancelled) == 0 {
		// Both directions in one call, as the connection's own
		// SetDeadline: the runtime then keeps one timer for the two. Set
		// one after the other, clearing them arms the write deadline's
		// timer between the two calls, which wakes an idle thread.
		s.storeWriteDeadline(t)
		err := s.conn().SetDeadline(t)
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
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
			return s.conn().SetWriteDeadline(t)
		}
		if f&fReadCancelled != 0 {
			return nil
		}
		return s.conn().SetReadDeadline(t)
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
