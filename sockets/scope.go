package sockets

import (
	"context"
	"strconv"
	"sync"
)

// DefaultScopeLimit is how many sockets a [Scope] lets be open at once
// unless [ScopeOptions].Limit says otherwise: 6, as on Cloudflare Workers.
const DefaultScopeLimit = 6

// ScopeOptions configure a [Scope]. A nil *ScopeOptions means the defaults.
type ScopeOptions struct {
	// Name identifies the scope in log records ("scope"), for example a
	// request's method and path or its ID.
	Name string
	// Limit is how many of the scope's sockets may be open at once: 0 means
	// DefaultScopeLimit (6), a negative value means no limit.
	Limit int
	// FailFast makes a Connect that finds no free slot fail at once with
	// [ErrLimit] instead of waiting for one.
	FailFast bool
}

// Scope stands for a request handler, as on Cloudflare Workers: it owns the
// sockets connected with it in their context ([WithScope]) and closes every
// one when it ends; at most Limit of them are open at once.
//
// A Connect beyond the limit still returns its socket at once, pending;
// the socket waits, in the order the Connects were made, for an earlier
// one to close before it dials. The wait is bounded by the Connect's
// context and by the socket's Close. With FailFast, such a Connect fails
// with [ErrLimit] instead. A socket returned by [Socket.StartTLS] belongs to
// the same scope and keeps the slot of the socket it replaces.
//
// When the scope ends, no waiting socket gets a slot: each fails at once
// with an error (matching [ErrClosed]) that says the scope ended.
//
// A Scope is safe for concurrent use. The zero Scope is usable: it has no
// name and the default limit, and ends only on Close. A nil *Scope stands
// for no scope: its reads report no limit and nothing open, Done returns a
// nil channel (it never ends, like context.Background's), and Close does
// nothing.
type Scope struct {
	name     string
	limit    int
	failFast bool
	stop     func() bool
	done     chan struct{}

	mu      sync.Mutex // guards the fields below and done's creation
	closed  bool
	active  int // slots held
	members map[*egress]struct{}
	waiters []*egress // FIFO
}

type scopeCtxKey struct{}

// member states, guarded by Scope.mu
const (
	memberIdle    uint8 = iota // joined, no slot, not waiting (gave up waiting)
	memberWaiting              // queued for a slot
	memberHolding              // holds a slot
	memberGone                 // left the scope
)

// NewScope returns a scope that ends when Close is called or ctx is done,
// whichever comes first; with context.Background it ends only on Close.
func NewScope(ctx context.Context, opts *ScopeOptions) *Scope {
	sc := &Scope{limit: DefaultScopeLimit, members: map[*egress]struct{}{}, done: make(chan struct{})}
	if opts != nil {
		sc.name = opts.Name
		sc.failFast = opts.FailFast
		if opts.Limit != 0 {
			sc.limit = opts.Limit
		}
	}
	if ctx != nil {
		sc.stop = context.AfterFunc(ctx, func() { sc.Close() })
	}
	return sc
}

// WithScope returns a context that carries sc: sockets connected with it
// (and with contexts derived from it) belong to sc.
func WithScope(ctx context.Context, sc *Scope) context.Context {
	return context.WithValue(ctx, scopeCtxKey{}, sc)
}

// ScopeFrom returns the scope ctx carries, or nil.
func ScopeFrom(ctx context.Context) *Scope {
	if ctx == nil {
		return nil
	}
	sc, _ := ctx.Value(scopeCtxKey{}).(*Scope)
	return sc
}

// Name returns the scope's name ("" for a nil Scope).
func (sc *Scope) Name() string {
	if sc == nil {
		return ""
	}
	return sc.name
}

// Limit returns how many sockets may be open at once (negative: no limit,
// as for a nil Scope).
func (sc *Scope) Limit() int {
	if sc == nil {
		return -1
	}
	return sc.max()
}

// max is the limit in force: the zero Scope has the default one.
func (sc *Scope) max() int {
	if sc.limit == 0 {
		return DefaultScopeLimit
	}
	return sc.limit
}

// Open returns how many of the scope's sockets hold a slot (connecting or
// open), and Waiting how many wait for one. Both are 0 for a nil Scope.
func (sc *Scope) Open() (open, waiting int) {
	if sc == nil {
		return 0, 0
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.active, len(sc.waiters)
}

// Done returns a channel that is closed when the scope has ended (nil for a
// nil Scope, which never ends).
func (sc *Scope) Done() <-chan struct{} {
	if sc == nil {
		return nil
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.doneLocked()
}

func (sc *Scope) doneLocked() chan struct{} {
	if sc.done == nil {
		sc.done = make(chan struct{}) // the zero Scope
	}
	return sc.done
}

// Close ends the scope: it closes every socket connected in it (waiting,
// connecting or open), and later Connects with it fail with [ErrClosed].
// No waiting socket gets a slot once Close has begun: each fails at once
// with an error saying the scope ended. Close returns once the sockets are
// closed. A repeat, and Close on a nil Scope, do nothing.
func (sc *Scope) Close() error {
	if sc == nil {
		return nil
	}
	sc.mu.Lock()
	if sc.closed {
		sc.mu.Unlock()
		return nil
	}
	sc.closed = true
	done := sc.doneLocked()
	ended := sc.endedError()
	// Fail every waiter now, before closing any socket frees a slot.
	var waiting, socks []*Socket
	for e := range sc.members {
		s := e.sock.Load()
		if s == nil {
			continue
		}
		if e.state == memberWaiting {
			waiting = append(waiting, s)
		} else {
			socks = append(socks, s)
		}
	}
	for _, w := range sc.waiters {
		w.state = memberIdle
		close(w.grant)
	}
	sc.waiters = nil
	sc.mu.Unlock()
	if sc.stop != nil {
		sc.stop()
	}
	for _, s := range waiting {
		s.end(&SocketError{Op: "connect", Addr: s.given, Err: ended}, 0)
	}
	for _, s := range socks {
		s.Close()
	}
	close(done)
	return nil
}

// endedError is what a socket that waited for a slot gets when the scope ends.
func (sc *Scope) endedError() error {
	return &detailError{kind: ErrClosed, msg: sc.describe() + " ended while the socket waited for a connection slot; connect with the context of a live scope"}
}

func (sc *Scope) describe() string {
	if sc.name != "" {
		return "scope " + quote(sc.name)
	}
	return "the scope"
}

// join registers a new connection's socket, taking a free slot when there
// is one. It fails when the scope is closed, or full under FailFast.
func (sc *Scope) join(e *egress, s *Socket) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed {
		return &detailError{kind: ErrClosed, msg: sc.describe() + " has ended (its request is over); connect with the context of a live scope"}
	}
	if sc.members == nil {
		sc.members = map[*egress]struct{}{} // the zero Scope
	}
	if limit := sc.max(); limit >= 0 && (sc.active >= limit || len(sc.waiters) > 0) {
		if sc.failFast {
			return errorf(ErrLimit, sc.describe()+" already has "+strconv.Itoa(sc.active)+" open sockets, its limit; close one first, or raise ScopeOptions.Limit, or drop FailFast to wait for a slot")
		}
		e.state = memberWaiting
		e.grant = make(chan struct{})
		sc.waiters = append(sc.waiters, e)
	} else {
		sc.active++
		e.state = memberHolding
	}
	e.sock.Store(s)
	sc.members[e] = struct{}{}
	if e.count != nil {
		e.count.SocketOpened()
	}
	return nil
}

// acquire waits for e's slot. ctx bounds the wait.
func (sc *Scope) acquire(ctx context.Context, e *egress) error {
	sc.mu.Lock()
	switch e.state {
	case memberHolding:
		sc.mu.Unlock()
		return nil
	case memberWaiting:
	default:
		closed := sc.closed
		sc.mu.Unlock()
		if closed {
			return sc.endedError() // Close failed the waiters before this one began
		}
		return ErrClosed
	}
	grant := e.grant
	sc.mu.Unlock()
	select {
	case <-grant:
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if e.state == memberHolding {
			return nil
		}
		return sc.endedError() // Close failed the waiters
	case <-ctx.Done():
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.closed && e.state != memberHolding {
		return sc.endedError()
	}
	if e.state == memberHolding {
		// Granted as the context ended: keep the slot; the failed dial
		// ends the socket, which gives it back.
		return ctx.Err()
	}
	sc.dequeue(e)
	if e.state == memberWaiting {
		e.state = memberIdle
	}
	return &limitWaitError{cause: ctx.Err(), msg: "waited for one of the " + strconv.Itoa(sc.max()) + " connection slots of " + sc.describe() +
		" until the context ended (" + ctx.Err().Error() + "); close sockets sooner, raise ScopeOptions.Limit, or give Connect a longer context"}
}

// limitWaitError is ErrLimit after a wait that the context ended; it
// matches both ErrLimit and the context's error.
type limitWaitError struct {
	cause error
	msg   string
}

func (e *limitWaitError) Error() string   { return ErrLimit.Error() + ": " + e.msg }
func (e *limitWaitError) Unwrap() []error { return []error{ErrLimit, e.cause} }

// leave removes e from the scope when its last socket ends, passing its
// slot to the first waiter.
func (sc *Scope) leave(e *egress) {
	delete(sc.members, e)
	switch e.state {
	case memberHolding:
		sc.active--
		sc.grantNext()
	case memberWaiting:
		sc.dequeue(e)
	}
	e.state = memberGone
}

func (sc *Scope) dequeue(e *egress) {
	for i, w := range sc.waiters {
		if w == e {
			sc.waiters = append(sc.waiters[:i], sc.waiters[i+1:]...)
			return
		}
	}
}

// grantNext gives free slots to the first waiters; once the scope is
// closing it gives none (Close has failed them).
func (sc *Scope) grantNext() {
	for !sc.closed && sc.active < sc.max() && len(sc.waiters) > 0 {
		w := sc.waiters[0]
		sc.waiters[0] = nil
		sc.waiters = sc.waiters[1:]
		w.state = memberHolding
		sc.active++
		close(w.grant)
	}
}
